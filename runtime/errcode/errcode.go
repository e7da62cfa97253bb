// Package errcode is the one table of Sluice's error codes: for every code
// that a client can read in an error body (and in Sluice-Error-Code), the
// HTTP status each listener answers it with and what it means.
//
// Each code is a named constant of the package that raises it
// (wasm.CodeTrap, dispatch.CodeDenied, queue.CodeDiskFull, ingress.CodeRateLimited,
// admin.CodePluginPinned, ...); the few both listeners raise for the same HTTP
// reasons (NotFound, BadRequest, RouteNotFound, InvalidCorrelationID) are
// constants of this package. The table repeats the codes' strings because it
// imports nothing of Sluice (every package on the data path may read it);
// errcode_test.go parses the source tree and fails when a Code* constant has
// no entry here, when an entry has no constant, and when README.md's error
// table and this one disagree.
//
// The table is read-only after package initialisation: safe for concurrent use.
package errcode

import "net/http"

// Codes raised by both listeners for the same reasons.
const (
	NotFound             = "not_found"
	BadRequest           = "bad_request"
	RouteNotFound        = "route_not_found"
	InvalidCorrelationID = "invalid_correlation_id"
)

// Info is one code: its status on each listener and its one-line meaning.
type Info struct {
	Code string
	// Ingress and Admin are the statuses on each listener; 0: that listener
	// never answers with the code.
	Ingress, Admin int
	Meaning        string
}

// table is every code, in the order of README.md's error table (the
// ingress's) followed by the admin API's own.
var table = []Info{
	{Code: InvalidCorrelationID, Ingress: http.StatusBadRequest, Admin: http.StatusBadRequest, Meaning: "the id is not a correlation id (a UUID)"},
	{Code: BadRequest, Ingress: http.StatusBadRequest, Admin: http.StatusBadRequest, Meaning: "a malformed HTTP request"},
	{Code: "signature_invalid", Ingress: http.StatusUnauthorized, Meaning: "the sender's signature is missing or wrong; nothing stored"},
	{Code: "timestamp_out_of_tolerance", Ingress: http.StatusUnauthorized, Meaning: "the signed timestamp is too old or in the future; nothing stored"},
	{Code: "unauthorized", Ingress: http.StatusUnauthorized, Admin: http.StatusUnauthorized, Meaning: "a missing or unknown API key (ingress) or operator token (admin API)"},
	{Code: RouteNotFound, Ingress: http.StatusNotFound, Admin: http.StatusNotFound, Meaning: "no route of that name"},
	{Code: "result_not_found", Ingress: http.StatusNotFound, Meaning: "no result with that id that these credentials may read"},
	{Code: NotFound, Ingress: http.StatusNotFound, Admin: http.StatusNotFound, Meaning: "no such endpoint"},
	{Code: "method_not_allowed", Ingress: http.StatusMethodNotAllowed, Meaning: "not a POST to /in/, not a GET to /v1/results/"},
	{Code: "request_timeout", Ingress: http.StatusRequestTimeout, Meaning: "the headers or the body arrived too slowly"},
	{Code: "body_too_large", Ingress: http.StatusRequestEntityTooLarge, Meaning: "the body is over max_body_size"},
	{Code: "rate_limited", Ingress: http.StatusTooManyRequests, Meaning: "the route's rate_limit is spent; not accepted"},
	{Code: "headers_too_large", Ingress: http.StatusRequestHeaderFieldsTooLarge, Meaning: "headers over http.max_header_size or http.max_headers"},
	{Code: "too_many_connections", Ingress: http.StatusTooManyRequests, Meaning: "the client's address has http.max_connections_per_ip connections open; the connection is closed"},
	{Code: "server_busy", Ingress: http.StatusServiceUnavailable, Meaning: "http.max_connections are open, or the bodies being received fill http.max_inflight_bytes; not accepted"},
	{Code: "loop_detected", Ingress: http.StatusLoopDetected, Meaning: "Sluice-Hops reached http.max_hops"},
	{Code: "plugin_rejected", Ingress: http.StatusUnprocessableEntity, Admin: http.StatusUnprocessableEntity, Meaning: "a plugin refused the message"},
	{Code: "trap", Ingress: http.StatusInternalServerError, Admin: http.StatusUnprocessableEntity, Meaning: "a plugin trapped or panicked"},
	{Code: "plugin_failed", Ingress: http.StatusInternalServerError, Admin: http.StatusUnprocessableEntity, Meaning: "a plugin failed: bad return code, exit, failed instantiation"},
	{Code: "fuel_exhausted", Ingress: http.StatusInternalServerError, Admin: http.StatusUnprocessableEntity, Meaning: "a plugin spent its fuel"},
	{Code: "call_depth_exceeded", Ingress: http.StatusInternalServerError, Admin: http.StatusUnprocessableEntity, Meaning: "a plugin recursed deeper than max_depth"},
	{Code: "plugin_timeout", Ingress: http.StatusInternalServerError, Admin: http.StatusUnprocessableEntity, Meaning: "a plugin ran past its timeout"},
	{Code: "memory_limit", Ingress: http.StatusInternalServerError, Admin: http.StatusUnprocessableEntity, Meaning: "a plugin ran out of memory"},
	{Code: "invalid_output", Ingress: http.StatusInternalServerError, Admin: http.StatusUnprocessableEntity, Meaning: "a plugin wrote outside its memory or over its output limit"},
	{Code: "unsupported_media_type", Ingress: http.StatusUnsupportedMediaType, Meaning: "the route's accept list does not include the body's Content-Type; nothing stored"},
	{Code: "validation_failed", Ingress: http.StatusUnprocessableEntity, Meaning: "the body breaks the route's schema or a validator plugin rejected it; nothing stored"},
	{Code: "destination_unreachable", Ingress: http.StatusBadGateway, Meaning: "no connection to the destination"},
	{Code: "destination_response_too_large", Ingress: http.StatusBadGateway, Meaning: "the destination's answer was over dispatch.max_response_size"},
	{Code: "destination_denied", Ingress: http.StatusBadGateway, Meaning: "every address of the destination is in dispatch.deny_networks"},
	{Code: "reply_transform_failed", Ingress: http.StatusBadGateway, Meaning: "a reply transform failed"},
	{Code: "destination_failed", Ingress: http.StatusBadGateway, Meaning: "the destination answered with a non-2xx status"},
	{Code: "idempotency_key_in_flight", Ingress: http.StatusConflict, Meaning: "the first request with this Idempotency-Key is still being handled"},
	{Code: "idempotency_key_reused", Ingress: http.StatusUnprocessableEntity, Meaning: "this Idempotency-Key came with another body"},
	{Code: "route_backlog_full", Ingress: http.StatusTooManyRequests, Meaning: "the route's backlog limit is reached; not accepted"},
	{Code: "backlog_full", Ingress: http.StatusServiceUnavailable, Meaning: "the backlog limit is reached; not accepted"},
	{Code: "log_unavailable", Ingress: http.StatusServiceUnavailable, Meaning: "the log could not store or read; not accepted"},
	{Code: "shutting_down", Ingress: http.StatusServiceUnavailable, Meaning: "the server is shutting down; not accepted"},
	{Code: "disk_full", Ingress: http.StatusInsufficientStorage, Meaning: "the data dir's free space is under min_free_disk or the log's floor; not accepted"},
	{Code: "destination_timeout", Ingress: http.StatusGatewayTimeout, Meaning: "the destination took too long"},
	{Code: "sync_timeout", Ingress: http.StatusGatewayTimeout, Meaning: "the sync pipeline took longer than sync_timeout; the message stays stored"},
	{Code: "internal_error", Ingress: http.StatusInternalServerError, Admin: http.StatusInternalServerError, Meaning: "a bug or an I/O error in Sluice itself"},

	// The admin API's own.
	{Code: "plugin_not_found", Admin: http.StatusNotFound, Meaning: "no plugin of that name in the config"},
	{Code: "dead_letter_not_found", Admin: http.StatusNotFound, Meaning: "the id is not a dead letter of the route"},
	{Code: "plugin_pinned", Admin: http.StatusConflict, Meaning: "the config pins the plugin's sha256; the upload has other contents"},
	{Code: "module_too_large", Admin: http.StatusRequestEntityTooLarge, Meaning: "the upload is over max_module_size"},
	{Code: "invalid_module", Admin: http.StatusUnprocessableEntity, Meaning: "the upload is not a module Sluice runs: no ABI, over a structure limit, does not compile"},
}

var byCode = func() map[string]*Info {
	m := make(map[string]*Info, len(table))
	for i := range table {
		m[table[i].Code] = &table[i]
	}
	return m
}()

// Lookup returns a code's entry.
func Lookup(code string) (Info, bool) {
	if i, ok := byCode[code]; ok {
		return *i, true
	}
	return Info{}, false
}

// All returns every entry, ingress codes first in README order.
func All() []Info { return append([]Info(nil), table...) }

// IngressStatus is the status the ingress answers code with: 500 for a code
// the ingress does not answer with (errcode_test.go makes sure there is none).
func IngressStatus(code string) int {
	if i, ok := byCode[code]; ok && i.Ingress != 0 {
		return i.Ingress
	}
	return http.StatusInternalServerError
}

// AdminStatus is the status the admin API answers code with (500 for an
// unknown code, as IngressStatus).
func AdminStatus(code string) int {
	if i, ok := byCode[code]; ok && i.Admin != 0 {
		return i.Admin
	}
	return http.StatusInternalServerError
}
