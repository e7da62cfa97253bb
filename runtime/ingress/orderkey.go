package ingress

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// orderKey returns the message's ordering key for an async route: messages
// with equal keys run one at a time in arrival order. A message that lacks
// its key field shares the route's empty-value key.
func orderKey(r *Route, ctx *fasthttp.RequestCtx, body []byte) string {
	switch r.OrderMode {
	case "none":
		return ""
	case "header":
		return r.Name + "\x00h\x00" + string(ctx.Request.Header.Peek(r.OrderArg))
	case "json":
		v, _ := jsonPointer(body, r.OrderArg)
		return r.Name + "\x00j\x00" + v
	default: // route
		return r.Name
	}
}

// jsonPointer returns the value at an RFC 6901 pointer in doc: strings as
// their text, numbers as written, anything else as compact JSON. ok is false
// if doc is not JSON or the pointer does not resolve.
func jsonPointer(doc []byte, pointer string) (value string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	if pointer != "" {
		for _, tok := range strings.Split(pointer[1:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch x := v.(type) {
			case map[string]any:
				if v, ok = x[tok]; !ok {
					return "", false
				}
			case []any:
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(x) || (len(tok) > 1 && tok[0] == '0') {
					return "", false
				}
				v = x[i]
			default:
				return "", false
			}
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	default:
		b, _ := json.Marshal(x)
		return string(b), true
	}
}
