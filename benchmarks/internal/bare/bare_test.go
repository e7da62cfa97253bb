package bare

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		method, path string
		want         int
	}{
		{"POST", "/in/bench", fasthttp.StatusAccepted},
		{"POST", "/anything", fasthttp.StatusAccepted},
		{"GET", "/healthz", fasthttp.StatusOK},
		{"GET", "/in/bench", fasthttp.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod(tt.method)
			ctx.Request.SetRequestURI(tt.path)
			Handler(&ctx)
			if got := ctx.Response.StatusCode(); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestHandlerDoesNotAllocate(t *testing.T) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/in/bench")
	ctx.Request.SetBody(make([]byte, 1024))
	n := testing.AllocsPerRun(100, func() {
		ctx.Response.Reset()
		Handler(&ctx)
	})
	if n != 0 {
		t.Errorf("Handler allocates %v times per request", n)
	}
}
