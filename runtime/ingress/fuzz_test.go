package ingress

// Fuzz targets for the ingress's small parsers: what they decide from a
// request's target and headers. The seed corpora are in code (f.Add), so
// plain `go test` runs every target on them as a unit test; FuzzIngress
// (server_fuzz_test.go) drives the whole server.

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/dispatch"
	"github.com/valyala/fasthttp"
)

// FuzzParsePrefer: never panics; a wait is whole seconds, at most 2^32-1 of
// them; and the Preference-Applied value of what was understood reads back
// as the same preference.
func FuzzParsePrefer(f *testing.F) {
	for _, s := range []string{
		"", "respond-async", "wait=10", "respond-async, wait=5", ` Respond-Async ; foo=bar ,WAIT="3", return=minimal`,
		"wait=0", "wait=-1, wait=x", "handling=lenient", "wait=4294967295", "wait=4294967296", `wait="`, "wait", ",,,;;;==",
		"respond-async,respond-async", "wait=1,wait=2", "wait=1\x00", "wait= 7 ", "wait=\"\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		p := parsePrefer(h)
		if p.wait < 0 || p.wait%time.Second != 0 || p.wait > (1<<32-1)*time.Second {
			t.Fatalf("%q: wait %v", h, p.wait)
		}
		if back := parsePrefer([]byte(p.applied())); back != p {
			t.Fatalf("%q: %+v applied as %q, which reads back as %+v", h, p, p.applied(), back)
		}
	})
}

// FuzzParseWait: never panics; a wait it accepts is between 0 and the cap.
func FuzzParseWait(f *testing.F) {
	for _, s := range []string{"", "30", "30s", "250ms", "3600", "-1s", "soon", "1e9", "9223372036854775807", "4294967296", "1h1h1h"} {
		f.Add([]byte(s))
	}
	const max = time.Minute
	f.Fuzz(func(t *testing.T, v []byte) {
		d, err := parseWait(v, max)
		if err != nil {
			if d != 0 {
				t.Fatalf("%q: error %v with wait %v", v, err, d)
			}
			return
		}
		if d < 0 || d > max {
			t.Fatalf("%q: wait %v outside [0, %v]", v, d, max)
		}
	})
}

// FuzzRequestPath: the ingress routes on the request target exactly as it
// was sent. Whatever path requestPath returns starts with "/", holds no
// query or fragment, and is a run of the target's own bytes that ends where
// the target's path ends: nothing is decoded or normalised, so "..",
// "%2e%2e" or "%2f" can never make a target reach a route whose name it does
// not spell out.
func FuzzRequestPath(f *testing.F) {
	for _, s := range []string{
		"/in/async", "/in/a/../b", "/in/%2e%2e/v1/stats", "/in/async%2f..%2fsync", "//in/sync", "/in/./sync",
		"http://example.com/in/sync", "http://example.com", "https://[::1]:8080/in/a?b#c", "http:///in/x",
		"://x/y", "*", "example.com:443", "", "?", "#/in/x", "/in/x?/../y", "in/x", "h://a/b://c/d", "h://",
		"0:////", // found by FuzzRequestPath (a bug in the test's own check)
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, uri []byte) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetRequestURIBytes(uri)
		raw := ctx.Request.Header.RequestURI() // what the server would see
		path, ok := requestPath(&ctx)
		if !ok {
			if len(raw) > 0 && raw[0] == '/' {
				t.Fatalf("%q: an origin-form target was refused", raw)
			}
			return
		}
		if len(path) == 0 || path[0] != '/' || bytes.ContainsAny(path, "?#") {
			t.Fatalf("%q: path %q", raw, path)
		}
		end := bytes.IndexAny(raw, "?#")
		if end < 0 {
			end = len(raw)
		}
		if raw[0] == '/' { // origin form: the target up to its query
			if !bytes.Equal(path, raw[:end]) {
				t.Fatalf("%q: path %q, want %q", raw, path, raw[:end])
			}
			return
		}
		// Absolute form: the end of the target up to its query, after the
		// authority, or "/" when there is no path.
		if bytes.Equal(path, []byte("/")) {
			return
		}
		if !bytes.HasSuffix(raw[:end], path) {
			t.Fatalf("%q: path %q is not where the target's path is", raw, path)
		}
		start := end - len(path)
		if i := bytes.Index(raw[:end], []byte("://")); i <= 0 || i+3 > start || bytes.IndexByte(raw[i+3:start], '/') >= 0 {
			t.Fatalf("%q: path %q does not start right after the authority", raw, path)
		}
	})
}

// FuzzHopCount: never negative; a count is the header's own number.
func FuzzHopCount(f *testing.F) {
	for _, s := range []string{"", "0", "7", "8", "-1", "+3", "abc", "99999999999999999999", "9223372036854775807", " 5", "007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.Set(dispatch.HopsHeader, v)
		n := hopCount(&ctx)
		if n < 0 {
			t.Fatalf("%q: %d hops", v, n)
		}
		if got := ctx.Request.Header.Peek(dispatch.HopsHeader); n > 0 {
			if m, err := strconv.Atoi(string(got)); err != nil || m != n {
				t.Fatalf("%q (sent as %q): %d hops", v, got, n)
			}
		}
	})
}

// FuzzOrderKey: the ordering key of a message is its route's name (so two
// routes never share a key) followed by what the mode takes from the
// request (the header's value, the JSON pointer's value), the same every
// time for the same request.
func FuzzOrderKey(f *testing.F) {
	for _, s := range []struct {
		mode, arg, header, body string
	}{
		{"route", "", "", "{}"},
		{"none", "", "", ""},
		{"header", "X-Customer-Id", "42", ""},
		{"header", "X-Customer-Id", "", ""},
		{"json", "/customer/id", "", `{"customer":{"id":42}}`},
		{"json", "/customer", "", `{"customer":{"b":[1,2.50,"x"],"a":null}}`},
		{"json", "/a~1b/0", "", `{"a/b":["\u0000"]}`},
		{"json", "/x", "", `{"x":1} trailing`},
		{"json", "/x", "", `{"x":1,"x":2}`},
		{"json", "/0", "", `[1e400]`},
		{"json", "/x", "", `not json`},
		{"json", "", "", `"whole"`},
		{"bogus", "", "", ""},
	} {
		f.Add(s.mode, s.arg, s.header, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, mode, arg, header string, body []byte) {
		r := &Route{Name: "orders", OrderMode: mode, OrderArg: arg}
		var ctx fasthttp.RequestCtx
		if arg != "" {
			ctx.Request.Header.Set(arg, header)
		}
		key := orderKey(r, &ctx, body)
		if again := orderKey(r, &ctx, bytes.Clone(body)); again != key {
			t.Fatalf("%s %q: key %q, then %q", mode, arg, key, again)
		}
		// SplitOrderKey gives back what the key was made of.
		route, by, value := SplitOrderKey(key)
		switch want := mode; {
		case mode == "none":
			if route != "" || by != "" || value != "" {
				t.Fatalf("none: split %q into %q %q %q", key, route, by, value)
			}
		case mode != "header" && mode != "json":
			want = "route"
			fallthrough
		default:
			if route != "orders" || by != want || (mode == "header" || mode == "json") && r.Name+"\x00"+by[:1]+"\x00"+value != key {
				t.Fatalf("%s: split %q into %q %q %q", mode, key, route, by, value)
			}
		}
		switch mode {
		case "none":
			if key != "" {
				t.Fatalf("none: key %q", key)
			}
		case "header":
			if want := "orders\x00h\x00" + string(ctx.Request.Header.Peek(arg)); key != want {
				t.Fatalf("header %q: key %q, want %q", arg, key, want)
			}
		case "json":
			v, ok := strings.CutPrefix(key, "orders\x00j\x00")
			if !ok {
				t.Fatalf("json: key %q", key)
			}
			got, found := jsonPointer(body, arg)
			if got != v || (!found && v != "") {
				t.Fatalf("json %q: key %q, pointer %q %v", arg, key, got, found)
			}
		default:
			if key != "orders" {
				t.Fatalf("%s: key %q", mode, key)
			}
		}
	})
}
