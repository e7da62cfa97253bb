package ingress

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// requestPath returns the request target's path exactly as the client sent
// it, without the query: Sluice routes on the raw path, never on a
// normalised one, so "/in/a/../b" or "/in/%2e%2e/v1/stats" reach no route
// and a proxy that allows only /in/a cannot be bypassed. An absolute-form
// target (http://host/path) yields its path. ok is false for anything else
// (an authority or asterisk form).
func requestPath(ctx *fasthttp.RequestCtx) (path []byte, ok bool) {
	uri := ctx.Request.Header.RequestURI()
	if i := bytes.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	if len(uri) > 0 && uri[0] == '/' {
		return uri, true
	}
	// absolute-form: scheme "://" authority path
	i := bytes.Index(uri, []byte("://"))
	if i <= 0 {
		return nil, false
	}
	rest := uri[i+3:]
	j := bytes.IndexByte(rest, '/')
	if j < 0 {
		return []byte("/"), true
	}
	return rest[j:], true
}
