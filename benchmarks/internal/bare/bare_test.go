package bare

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		status       int
		method, path string
		want         int
		body         string // "" means not checked
	}{
		{202, "POST", "/in/bench", fasthttp.StatusAccepted, ""},
		{200, "POST", "/anything", fasthttp.StatusOK, ""},
		{202, "GET", "/healthz", fasthttp.StatusOK, ""},
		{202, "GET", CountPath, fasthttp.StatusOK, "1"}, // after the one POST below
		{202, "GET", "/in/bench", fasthttp.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			s := New(tt.status)
			var post fasthttp.RequestCtx
			post.Request.Header.SetMethod("POST")
			s.Handler(&post)
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod(tt.method)
			ctx.Request.SetRequestURI(tt.path)
			s.Handler(&ctx)
			if got := ctx.Response.StatusCode(); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
			if tt.body != "" && string(ctx.Response.Body()) != tt.body {
				t.Errorf("body = %q, want %q", ctx.Response.Body(), tt.body)
			}
		})
	}
}

func TestCount(t *testing.T) {
	s := New(fasthttp.StatusOK)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	for range 3 {
		s.Handler(&ctx)
	}
	ctx.Request.Header.SetMethod("GET")
	s.Handler(&ctx) // a GET is not counted
	if got := s.Count(); got != 3 {
		t.Errorf("Count = %d, want 3", got)
	}
}

func TestHandlerDoesNotAllocate(t *testing.T) {
	s := New(fasthttp.StatusAccepted)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/in/bench")
	ctx.Request.SetBody(make([]byte, 1024))
	n := testing.AllocsPerRun(100, func() {
		ctx.Response.Reset()
		s.Handler(&ctx)
	})
	if n != 0 {
		t.Errorf("Handler allocates %v times per request", n)
	}
}
