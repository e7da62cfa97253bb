package ingress

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/runtime/config"
	"github.com/valyala/fasthttp"
)

// orderKey returns the message's ordering key for an async route: messages
// with equal keys run one at a time in arrival order. A message that lacks
// its key field shares the route's empty-value key.
func orderKey(r *Route, ctx *fasthttp.RequestCtx, body []byte) string {
	switch r.OrderMode {
	case config.OrderNone:
		return ""
	case config.OrderHeader:
		return r.Name + keyHeader + string(ctx.Request.Header.Peek(r.OrderArg))
	case config.OrderJSON:
		v, _ := jsonPointer(body, r.OrderArg)
		return r.Name + keyJSON + v
	default: // route
		return r.Name
	}
}

// What separates a route's name from the value it orders by in a key.
const (
	keyHeader = "\x00h\x00"
	keyJSON   = "\x00j\x00"
)

// SplitOrderKey undoes orderKey, to show a stored message's key as the
// route's config says it: the route, how it orders ("route", "header" or
// "json", as in order_by) and, for header and json, the value the message
// carried ("" if it lacked it: such messages share one key). The empty key
// (order_by none, sync routes) gives "", "", "".
func SplitOrderKey(key string) (route, by, value string) {
	if i := strings.IndexByte(key, 0); i >= 0 {
		rest := key[i:]
		switch {
		case strings.HasPrefix(rest, keyHeader):
			return key[:i], config.OrderHeader, rest[len(keyHeader):]
		case strings.HasPrefix(rest, keyJSON):
			return key[:i], config.OrderJSON, rest[len(keyJSON):]
		}
		return key[:i], "", rest // not a key orderKey writes
	}
	if key == "" {
		return "", "", ""
	}
	return key, config.OrderRoute, ""
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
