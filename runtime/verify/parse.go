package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
)

// maxDecoded bounds a decoded signature: base64.StdEncoding.DecodedLen of a
// padded SHA-512 MAC (88 characters) is 66.
const maxDecoded = 72

var (
	b64Padded = base64.StdEncoding.Strict()
	b64Raw    = base64.RawStdEncoding.Strict()
)

// decodeSignature decodes src, a MAC of size bytes in encoding enc, into
// dst (at least maxDecoded bytes). Hex may be either case; base64 is the
// standard alphabet, padded or not, with zero padding bits. It reports
// false for anything that does not decode to exactly size bytes.
func decodeSignature(dst []byte, enc encoding, size int, src []byte) (int, bool) {
	var (
		n   int
		err error
	)
	switch {
	case enc == encHex && len(src) == hex.EncodedLen(size):
		n, err = hex.Decode(dst, src)
	case enc == encBase64 && len(src) == b64Padded.EncodedLen(size):
		n, err = b64Padded.Decode(dst, src)
	case enc == encBase64 && len(src) == b64Raw.EncodedLen(size):
		n, err = b64Raw.Decode(dst, src)
	default:
		return 0, false
	}
	// base64 skips \r and \n, so a value of the right length may decode
	// to fewer bytes.
	return n, err == nil && n == size
}

// parseUnix parses a unix time in seconds: 1 to 18 ASCII digits.
func parseUnix(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// sigList yields the signatures of a list-valued header: the elements
// separated by sep that start with tag, tag removed, white space trimmed.
// It is a value: copy it to iterate again.
type sigList struct {
	rest []byte
	sep  byte
	tag  []byte
}

var (
	stripeV1Tag   = []byte("v1=")
	standardV1Tag = []byte("v1,")
)

func (l *sigList) next() ([]byte, bool) {
	for len(l.rest) > 0 {
		elem := l.rest
		if i := bytes.IndexByte(l.rest, l.sep); i >= 0 {
			elem, l.rest = l.rest[:i], l.rest[i+1:]
		} else {
			l.rest = nil
		}
		if s, ok := bytes.CutPrefix(trimOWS(elem), l.tag); ok {
			return s, true
		}
	}
	return nil, false
}

// trimOWS trims HTTP optional white space (spaces and tabs).
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

var (
	errStripeTwoT  = invalid(hdrStripeSignature + " has more than one t=")
	errStripeBadT  = invalid(hdrStripeSignature + " t= is not a unix timestamp")
	errStripeNoT   = invalid(hdrStripeSignature + " has no t= timestamp")
	errStripeNoV1  = invalid(hdrStripeSignature + " has no v1 signature")
	errStripeBadV1 = invalid(hdrStripeSignature + " has no well-formed v1 signature (64 hex digits)")
	errSWNoV1      = invalid(hdrWebhookSignature + " has no v1 signature")
	errSWBadV1     = invalid(hdrWebhookSignature + " has no well-formed v1 signature (a base64 HMAC-SHA256)")
)

// parseStripeSignature parses a Stripe-Signature value,
// "t=<unix>,v1=<hex>[,v1=<hex>...][,v0=<hex>...]": elements separated by
// commas, each key=value. It returns the timestamp as sent (it is signed
// as sent) and its value, and the v1 signatures; other keys are ignored.
// It rejects an empty element, one without '=', a missing, repeated or
// non-numeric t, and a value without any v1 that decodes.
func parseStripeSignature(val []byte) (ts []byte, t int64, sigs sigList, err *Error) {
	var v1, wellFormed int
	var buf [maxDecoded]byte
	for rest := val; rest != nil; {
		elem := rest
		if i := bytes.IndexByte(rest, ','); i >= 0 {
			elem, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		elem = trimOWS(elem)
		k, v, ok := bytes.Cut(elem, []byte("="))
		switch {
		case !ok:
			// Empty elements and items without "=" are skipped, as Stripe's
			// own libraries do (stripe-node reads flags from the header);
			// a valid v1 is still required.
			continue
		case string(k) == "t":
			if ts != nil {
				return nil, 0, sigList{}, errStripeTwoT
			}
			if t, ok = parseUnix(v); !ok {
				return nil, 0, sigList{}, errStripeBadT
			}
			ts = v
		case string(k) == "v1":
			v1++
			if _, ok := decodeSignature(buf[:], encHex, sha256.Size, v); ok {
				wellFormed++
			}
		}
	}
	switch {
	case ts == nil:
		return nil, 0, sigList{}, errStripeNoT
	case v1 == 0:
		return nil, 0, sigList{}, errStripeNoV1
	case wellFormed == 0:
		return nil, 0, sigList{}, errStripeBadV1
	}
	return ts, t, sigList{rest: val, sep: ',', tag: stripeV1Tag}, nil
}

// parseSignatureList parses a Standard Webhooks webhook-signature value: a
// space-separated list of "<version>,<signature>". Versions other than v1
// (v1a, future ones) and elements without a comma are ignored, as the
// reference libraries do; at least one v1 must decode as a base64
// HMAC-SHA256.
func parseSignatureList(val []byte) (sigList, *Error) {
	l := sigList{rest: val, sep: ' ', tag: standardV1Tag}
	var v1, wellFormed int
	var buf [maxDecoded]byte
	for it := l; ; {
		s, ok := it.next()
		if !ok {
			break
		}
		v1++
		if _, ok := decodeSignature(buf[:], encBase64, sha256.Size, s); ok {
			wellFormed++
		}
	}
	switch {
	case v1 == 0:
		return sigList{}, errSWNoV1
	case wellFormed == 0:
		return sigList{}, errSWBadV1
	}
	return l, nil
}

// jsonTopLevelString returns the value of the member named key of the JSON
// object body when that value is a string, without its quotes; nil when
// body is not an object, has no such member before it stops parsing, or
// the value is not a string. It scans without allocating and without
// validating more than it needs: nested values are skipped by bracket
// depth. Member names are compared as sent (a name written with escapes
// does not match). A value with escapes is decoded into a new slice.
func jsonTopLevelString(body []byte, key string) []byte {
	i := skipJSONSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil
	}
	i++
	for {
		i = skipJSONSpace(body, i)
		if i >= len(body) || body[i] != '"' {
			return nil // '}' (empty object) or not JSON
		}
		end, esc, ok := scanJSONString(body, i)
		if !ok {
			return nil
		}
		name := body[i+1 : end-1]
		i = skipJSONSpace(body, end)
		if i >= len(body) || body[i] != ':' {
			return nil
		}
		i = skipJSONSpace(body, i+1)
		if i >= len(body) {
			return nil
		}
		if !esc && string(name) == key {
			if body[i] != '"' {
				return nil
			}
			end, esc, ok := scanJSONString(body, i)
			switch {
			case !ok:
				return nil
			case !esc:
				return nonEmpty(body[i+1 : end-1])
			}
			var s string
			if json.Unmarshal(body[i:end], &s) != nil {
				return nil
			}
			return nonEmpty([]byte(s))
		}
		if i, ok = skipJSONValue(body, i); !ok {
			return nil
		}
		i = skipJSONSpace(body, i)
		if i >= len(body) || body[i] != ',' {
			return nil // '}': no such member
		}
		i++
	}
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanJSONString scans the string starting at b[i] == '"' and returns the
// index after its closing quote and whether it has escapes.
func scanJSONString(b []byte, i int) (end int, esc, ok bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc, true
		}
	}
	return 0, false, false
}

// skipJSONValue returns the index after the value starting at b[i]:
// a string, an object or array (by bracket depth, strings skipped), or a
// scalar (up to the next delimiter).
func skipJSONValue(b []byte, i int) (int, bool) {
	switch b[i] {
	case '"':
		end, _, ok := scanJSONString(b, i)
		return end, ok
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _, ok := scanJSONString(b, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
scalar:
	for ; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			break scalar
		}
	}
	return j, j > i
}
