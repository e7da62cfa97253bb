package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"time"
)

// Header names, as the providers document them. Header.Peek matches them
// case-insensitively.
const (
	hdrGitHubSignature  = "X-Hub-Signature-256"
	hdrGitHubDelivery   = "X-GitHub-Delivery"
	hdrStripeSignature  = "Stripe-Signature"
	hdrShopifyHMAC      = "X-Shopify-Hmac-Sha256"
	hdrShopifyWebhookID = "X-Shopify-Webhook-Id"
	hdrShopifyEventID   = "X-Shopify-Event-Id"
	hdrSlackSignature   = "X-Slack-Signature"
	hdrSlackTimestamp   = "X-Slack-Request-Timestamp"
	hdrWebhookID        = "webhook-id"
	hdrWebhookTimestamp = "webhook-timestamp"
	hdrWebhookSignature = "webhook-signature"
	hdrAuthorization    = "Authorization"
	hdrAPIKey           = "X-Api-Key" // #nosec G101 -- a header name, not a credential
	jsonStripeEventID   = "id"
	jsonSlackEventID    = "event_id"
)

// Fixed parts of the signed contents.
var (
	dot          = []byte(".")
	colon        = []byte(":")
	slackVersion = []byte("v0:")
	sha256Prefix = []byte("sha256=")
	v0Prefix     = []byte("v0=")
)

// The errors with fixed messages, allocated once.
var (
	errGitHubMissing    = invalid(hdrGitHubSignature + " is missing")
	errGitHubMalformed  = invalid(hdrGitHubSignature + " is not sha256=<64 hex digits>")
	errGitHubMismatch   = invalid(hdrGitHubSignature + " does not match the body with any secret")
	errStripeMissing    = invalid(hdrStripeSignature + " is missing")
	errStripeMismatch   = invalid("no v1 signature in " + hdrStripeSignature + " matches with any secret")
	errShopifyMissing   = invalid(hdrShopifyHMAC + " is missing")
	errShopifyMalformed = invalid(hdrShopifyHMAC + " is not a base64 HMAC-SHA256")
	errShopifyMismatch  = invalid(hdrShopifyHMAC + " does not match the body with any secret")
	errSlackMissing     = invalid(hdrSlackSignature + " is missing")
	errSlackTSMissing   = invalid(hdrSlackTimestamp + " is missing")
	errSlackTSMalformed = invalid(hdrSlackTimestamp + " is not a unix timestamp")
	errSlackMalformed   = invalid(hdrSlackSignature + " is not v0=<64 hex digits>")
	errSlackMismatch    = invalid(hdrSlackSignature + " does not match the timestamp and body with any secret")
	errSWIDMissing      = invalid(hdrWebhookID + " is missing")
	errSWTSMissing      = invalid(hdrWebhookTimestamp + " is missing")
	errSWTSMalformed    = invalid(hdrWebhookTimestamp + " is not a unix timestamp")
	errSWMissing        = invalid(hdrWebhookSignature + " is missing")
	errSWMismatch       = invalid("no v1 signature in " + hdrWebhookSignature + " matches with any secret")
	errNoAPIKey         = unauthorized("no API key: send Authorization: Bearer <key> or X-Api-Key: <key>")
	errUnknownAPIKey    = unauthorized("the API key is not one of the route's keys")
)

func (v *Verifier) verifyGitHub(h Header, body []byte) (Result, *Error) {
	val := h.Peek(hdrGitHubSignature)
	if len(val) == 0 {
		return Result{}, errGitHubMissing
	}
	enc, ok := bytes.CutPrefix(val, sha256Prefix)
	var sig [maxDecoded]byte
	n, good := decodeSignature(sig[:], encHex, sha256.Size, enc)
	if !ok || !good {
		return Result{}, errGitHubMalformed
	}
	i := v.matchOne(sig[:n], body)
	if i < 0 {
		return Result{}, errGitHubMismatch
	}
	return Result{DeliveryID: nonEmpty(h.Peek(hdrGitHubDelivery)), Key: i}, nil
}

func (v *Verifier) verifyStripe(h Header, body []byte, now time.Time) (Result, *Error) {
	val := h.Peek(hdrStripeSignature)
	if len(val) == 0 {
		return Result{}, errStripeMissing
	}
	ts, t, sigs, err := parseStripeSignature(val)
	if err != nil {
		return Result{}, err
	}
	if err := v.checkTimestamp(t, now); err != nil {
		return Result{}, err
	}
	i := v.matchList(sigs, ts, dot, body)
	if i < 0 {
		return Result{}, errStripeMismatch
	}
	return Result{DeliveryID: jsonTopLevelString(body, jsonStripeEventID), Key: i}, nil
}

func (v *Verifier) verifyShopify(h Header, body []byte) (Result, *Error) {
	val := h.Peek(hdrShopifyHMAC)
	if len(val) == 0 {
		return Result{}, errShopifyMissing
	}
	var sig [maxDecoded]byte
	n, ok := decodeSignature(sig[:], encBase64, sha256.Size, val)
	if !ok {
		return Result{}, errShopifyMalformed
	}
	i := v.matchOne(sig[:n], body)
	if i < 0 {
		return Result{}, errShopifyMismatch
	}
	id := nonEmpty(h.Peek(hdrShopifyWebhookID))
	if id == nil {
		id = nonEmpty(h.Peek(hdrShopifyEventID))
	}
	return Result{DeliveryID: id, Key: i}, nil
}

func (v *Verifier) verifySlack(h Header, body []byte, now time.Time) (Result, *Error) {
	val := h.Peek(hdrSlackSignature)
	if len(val) == 0 {
		return Result{}, errSlackMissing
	}
	ts := h.Peek(hdrSlackTimestamp)
	if len(ts) == 0 {
		return Result{}, errSlackTSMissing
	}
	t, ok := parseUnix(ts)
	if !ok {
		return Result{}, errSlackTSMalformed
	}
	if err := v.checkTimestamp(t, now); err != nil {
		return Result{}, err
	}
	enc, ok := bytes.CutPrefix(val, v0Prefix)
	var sig [maxDecoded]byte
	n, good := decodeSignature(sig[:], encHex, sha256.Size, enc)
	if !ok || !good {
		return Result{}, errSlackMalformed
	}
	i := v.matchOne(sig[:n], slackVersion, ts, colon, body)
	if i < 0 {
		return Result{}, errSlackMismatch
	}
	return Result{DeliveryID: jsonTopLevelString(body, jsonSlackEventID), Key: i}, nil
}

func (v *Verifier) verifyStandardWebhooks(h Header, body []byte, now time.Time) (Result, *Error) {
	id := h.Peek(hdrWebhookID)
	if len(id) == 0 {
		return Result{}, errSWIDMissing
	}
	ts := h.Peek(hdrWebhookTimestamp)
	if len(ts) == 0 {
		return Result{}, errSWTSMissing
	}
	val := h.Peek(hdrWebhookSignature)
	if len(val) == 0 {
		return Result{}, errSWMissing
	}
	t, ok := parseUnix(ts)
	if !ok {
		return Result{}, errSWTSMalformed
	}
	if err := v.checkTimestamp(t, now); err != nil {
		return Result{}, err
	}
	sigs, err := parseSignatureList(val)
	if err != nil {
		return Result{}, err
	}
	i := v.matchList(sigs, id, dot, ts, dot, body)
	if i < 0 {
		return Result{}, errSWMismatch
	}
	return Result{DeliveryID: id, Key: i}, nil
}

func (v *Verifier) verifyHMAC(h Header, body []byte) (Result, *Error) {
	val := h.Peek(v.header)
	if len(val) == 0 {
		return Result{}, v.errMissing
	}
	enc, ok := bytes.CutPrefix(val, v.prefix)
	if !ok {
		return Result{}, v.errPrefix
	}
	var sig [maxDecoded]byte
	n, ok := decodeSignature(sig[:], v.enc, v.size, enc)
	if !ok {
		return Result{}, v.errDecode
	}
	i := v.matchOne(sig[:n], body)
	if i < 0 {
		return Result{}, v.errMismatch
	}
	var id []byte
	if v.idHeader != "" {
		id = nonEmpty(h.Peek(v.idHeader))
	}
	return Result{DeliveryID: id, Key: i}, nil
}

// verifyAPIKey compares the SHA-256 digest of the presented key with the
// digest of every configured key, all of them every time, and selects the
// matching index without a data-dependent branch: the time taken says
// nothing about which key, if any, matched.
func (v *Verifier) verifyAPIKey(h Header) (Result, *Error) {
	key := bearerToken(h.Peek(hdrAuthorization))
	if len(key) == 0 {
		key = bytes.TrimSpace(h.Peek(hdrAPIKey))
	}
	if len(key) == 0 {
		return Result{}, errNoAPIKey
	}
	d := sha256.Sum256(key)
	found, idx := 0, 0
	for i := range v.keys {
		eq := subtle.ConstantTimeCompare(d[:], v.keys[i][:])
		idx = subtle.ConstantTimeSelect(eq, i, idx)
		found |= eq
	}
	if found != 1 {
		return Result{}, errUnknownAPIKey
	}
	return Result{Key: idx}, nil
}

// bearerToken returns the credentials of an "Authorization: Bearer <token>"
// value (the scheme name is case-insensitive), or nil for another scheme.
func bearerToken(v []byte) []byte {
	const scheme = "Bearer "
	if len(v) < len(scheme) || !bytes.EqualFold(v[:len(scheme)], []byte(scheme)) {
		return nil
	}
	return bytes.TrimSpace(v[len(scheme):])
}

// checkTimestamp rejects a signed unix time t further than the tolerance
// from now, in either direction.
func (v *Verifier) checkTimestamp(t int64, now time.Time) *Error {
	d := now.Sub(time.Unix(t, 0))
	switch {
	case d > v.tolerance:
		return &Error{Code: CodeTimestampOutOfTolerance, Message: fmt.Sprintf(
			"timestamp %d is %ds old, beyond the %s tolerance", t, ceilSeconds(d), v.tolerance)}
	case d < -v.tolerance:
		return &Error{Code: CodeTimestampOutOfTolerance, Message: fmt.Sprintf(
			"timestamp %d is %ds in the future, beyond the %s tolerance", t, ceilSeconds(-d), v.tolerance)}
	}
	return nil
}

// ceilSeconds rounds a positive d up to whole seconds, so that a message
// never says "300s old, beyond the 5m0s tolerance".
func ceilSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// mac computes the HMAC of the concatenated parts with secret i. The sum
// lives in the returned state: put it back only when done with the sum.
func (v *Verifier) mac(i int, parts [][]byte) (*macState, []byte) {
	st := v.secrets[i].Get().(*macState)
	st.h.Reset()
	for _, p := range parts {
		st.h.Write(p)
	}
	return st, st.h.Sum(st.sum[:0])
}

// matchOne returns the index of the first secret whose HMAC of the
// concatenated parts equals sig (compared in constant time), or -1.
func (v *Verifier) matchOne(sig []byte, parts ...[]byte) int {
	for i := range v.secrets {
		st, sum := v.mac(i, parts)
		ok := hmac.Equal(sum, sig)
		v.secrets[i].Put(st)
		if ok {
			return i
		}
	}
	return -1
}

// matchList is matchOne for each signature sigs yields: the index of the
// first secret whose HMAC equals any of them, or -1. Candidates that do not
// decode are skipped.
func (v *Verifier) matchList(sigs sigList, parts ...[]byte) int {
	var sig [maxDecoded]byte
	for i := range v.secrets {
		st, sum := v.mac(i, parts)
		ok := false
		for l := sigs; !ok; {
			enc, more := l.next()
			if !more {
				break
			}
			n, good := decodeSignature(sig[:], v.enc, v.size, enc)
			ok = good && hmac.Equal(sum, sig[:n])
		}
		v.secrets[i].Put(st)
		if ok {
			return i
		}
	}
	return -1
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
