package ingress

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/runtime/verify"
	"github.com/valyala/fasthttp"
)

// routeState is what the server keeps per route at run time.
type routeState struct {
	*Route
	limit *bucket // nil: no rate limit

	authFailures atomic.Uint64 // requests refused by Verify
	rateLimited  atomic.Uint64 // requests refused by the rate limit
	lastLog      atomic.Int64  // unix nanos of the last logged auth failure
	unlogged     atomic.Uint64 // failures not logged since (at most one line a second per route)
}

// verifySender runs the route's sender verification. On failure it counts
// and logs the failure (never the secret, the signature or the key) and
// answers 401; nothing is stored.
func (s *Server) verifySender(ctx *fasthttp.RequestCtx, r *routeState, body []byte) (verify.Result, bool) {
	res, err := r.Verifier.Verify(&ctx.Request.Header, body, time.Now())
	if err == nil {
		return res, true
	}
	r.authFailures.Add(1)
	var ve *verify.Error
	if !errors.As(err, &ve) {
		ve = &verify.Error{Code: verify.CodeSignatureInvalid, Message: err.Error()}
	}
	now := time.Now().UnixNano()
	if last := r.lastLog.Load(); now-last >= int64(time.Second) && r.lastLog.CompareAndSwap(last, now) {
		s.log.Warn("sender verification failed", "route", r.Name, "code", ve.Code, "reason", ve.Message,
			"remote", ctx.RemoteIP().String(), "suppressed", r.unlogged.Swap(0))
	} else {
		r.unlogged.Add(1)
	}
	if r.APIKey {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="sluice"`)
	}
	writeError(ctx, ve.Code, ve.Message)
	return res, false
}

// mayRead reports whether the request may read a result of route: routes
// without auth are open; the operator token reads every result; a route
// with API keys also lets one of its own keys read its results.
func (s *Server) mayRead(ctx *fasthttp.RequestCtx, route string) bool {
	r := s.routes[route]
	if r == nil || r.Verifier == nil {
		if r == nil && len(s.tokenHash) > 0 { // a route no longer configured: operators only
			return s.operator(ctx)
		}
		return true
	}
	if s.operator(ctx) {
		return true
	}
	if !r.APIKey {
		return false
	}
	_, err := r.Verifier.Verify(&ctx.Request.Header, nil, time.Now())
	return err == nil
}

// operator reports whether the request carries the operator (admin) token.
func (s *Server) operator(ctx *fasthttp.RequestCtx) bool {
	if len(s.tokenHash) == 0 {
		return false
	}
	tok, ok := bytes.CutPrefix(ctx.Request.Header.Peek("Authorization"), []byte("Bearer "))
	if !ok {
		return false
	}
	h := sha256.Sum256(bytes.TrimSpace(tok))
	return subtle.ConstantTimeCompare(h[:], s.tokenHash) == 1
}

// Stats are the ingress's own counters.
type Stats struct {
	InflightBytes int64                 `json:"inflight_bytes"` // request bodies being received now
	Routes        map[string]RouteStats `json:"routes"`
}

// RouteStats count a route's refused requests.
type RouteStats struct {
	AuthFailures uint64 `json:"auth_failures"` // 401: sender verification failed
	RateLimited  uint64 `json:"rate_limited"`  // 429 rate_limited
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{InflightBytes: s.inflight.Load(), Routes: make(map[string]RouteStats, len(s.routes))}
	for name, r := range s.routes {
		st.Routes[name] = RouteStats{AuthFailures: r.authFailures.Load(), RateLimited: r.rateLimited.Load()}
	}
	return st
}
