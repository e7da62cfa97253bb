package ingress

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/runtime/validate"
	"github.com/valyala/fasthttp"
)

// Error codes the ingress itself produces. Codes of transform and dispatch
// failures come from the wasm, dispatch and results packages.
const (
	codeRouteNotFound    = "route_not_found"
	codeNotFound         = "not_found"
	codeMethod           = "method_not_allowed"
	codeBodyTooLarge     = "body_too_large"
	codeHeadersTooLarge  = "headers_too_large"
	codeBadRequest       = "bad_request"
	codeBacklogFull      = "backlog_full"
	codeLogUnavailable   = "log_unavailable"
	codeShuttingDown     = "shutting_down"
	codeSyncTimeout      = "sync_timeout"
	codeResultNotFound   = "result_not_found"
	codeBadID            = "invalid_correlation_id"
	codeIdemReused       = "idempotency_key_reused"
	codeRouteBacklogFull = "route_backlog_full"
	codeValidationFailed = "validation_failed"
	codeUnsupportedType  = "unsupported_media_type"
	codeIdemInFlight     = "idempotency_key_in_flight"
	codeDiskFull         = "disk_full"
	codeServerBusy       = "server_busy"
	codeRequestTimeout   = "request_timeout"
	codeLoopDetected     = "loop_detected"
	codeRateLimited      = "rate_limited"
)

// statusOf maps every error code to its HTTP status: the only such table.
var statusOf = map[string]int{
	codeRouteNotFound:                http.StatusNotFound,
	codeNotFound:                     http.StatusNotFound,
	codeMethod:                       http.StatusMethodNotAllowed,
	codeBodyTooLarge:                 http.StatusRequestEntityTooLarge,
	codeHeadersTooLarge:              http.StatusRequestHeaderFieldsTooLarge,
	codeBadRequest:                   http.StatusBadRequest,
	codeBacklogFull:                  http.StatusServiceUnavailable,
	codeLogUnavailable:               http.StatusServiceUnavailable,
	codeShuttingDown:                 http.StatusServiceUnavailable,
	codeSyncTimeout:                  http.StatusGatewayTimeout,
	codeResultNotFound:               http.StatusNotFound,
	codeBadID:                        http.StatusBadRequest,
	codeIdemReused:                   http.StatusUnprocessableEntity,
	codeRouteBacklogFull:             http.StatusTooManyRequests,
	codeValidationFailed:             http.StatusUnprocessableEntity,
	codeUnsupportedType:              http.StatusUnsupportedMediaType,
	codeIdemInFlight:                 http.StatusConflict,
	codeDiskFull:                     http.StatusInsufficientStorage,
	codeServerBusy:                   http.StatusServiceUnavailable,
	codeRequestTimeout:               http.StatusRequestTimeout,
	codeLoopDetected:                 http.StatusLoopDetected,
	codeRateLimited:                  http.StatusTooManyRequests,
	"signature_invalid":              http.StatusUnauthorized,
	"unauthorized":                   http.StatusUnauthorized,
	"timestamp_out_of_tolerance":     http.StatusUnauthorized,
	"destination_denied":             http.StatusBadGateway,
	"plugin_rejected":                http.StatusUnprocessableEntity,
	"plugin_failed":                  http.StatusInternalServerError,
	"trap":                           http.StatusInternalServerError,
	"fuel_exhausted":                 http.StatusInternalServerError,
	"call_depth_exceeded":            http.StatusInternalServerError,
	"plugin_timeout":                 http.StatusInternalServerError,
	"memory_limit":                   http.StatusInternalServerError,
	"invalid_output":                 http.StatusInternalServerError,
	"destination_unreachable":        http.StatusBadGateway,
	"destination_timeout":            http.StatusGatewayTimeout,
	"destination_failed":             http.StatusBadGateway,
	"destination_response_too_large": http.StatusBadGateway,
	"reply_transform_failed":         http.StatusBadGateway,
	"internal_error":                 http.StatusInternalServerError,
}

// statusFor returns the HTTP status for an error code (500 if unknown).
func statusFor(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlation_id,omitempty"`
	Plugin        string `json:"plugin,omitempty"`
	// Violations lists what validation found (validation_failed).
	Violations []validate.Violation `json:"violations,omitempty"`
}

// writeError answers with the code's status and a JSON error body.
func writeError(ctx *fasthttp.RequestCtx, code, msg string) {
	writeErrorDetail(ctx, errorDetail{Code: code, Message: msg})
}

func writeErrorDetail(ctx *fasthttp.RequestCtx, d errorDetail) {
	ctx.Response.Header.Set("Sluice-Error-Code", d.Code)
	if len(ctx.Response.Header.Peek("Sluice-Correlation-Id")) == 0 { // so that a caller can always quote one
		if id, err := uuid.NewV7(); err == nil {
			ctx.Response.Header.Set("Sluice-Correlation-Id", id.String())
		}
	}
	switch d.Code {
	case codeBacklogFull, codeRouteBacklogFull, codeLogUnavailable, codeShuttingDown, codeServerBusy:
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(1))
	case codeDiskFull: // space comes back when the backlog drains or an operator acts
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(30))
	}
	writeJSON(ctx, statusFor(d.Code), errorBody{Error: d})
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal_error","message":"encoding response"}}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}
