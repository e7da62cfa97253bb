package ingress

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/errcode"
	"github.com/sluicehq/sluice/runtime/results"
	"github.com/sluicehq/sluice/runtime/validate"
	"github.com/valyala/fasthttp"
)

// Error codes the ingress raises itself. The codes of the log
// (queue.CodeDiskFull, ...), of validation, sender verification, transforms
// and deliveries are their packages'; the codes both listeners raise are
// errcode's. errcode maps every code to its status.
const (
	CodeMethodNotAllowed       = "method_not_allowed"
	CodeBodyTooLarge           = "body_too_large"
	CodeHeadersTooLarge        = "headers_too_large"
	CodeShuttingDown           = "shutting_down"
	CodeSyncTimeout            = "sync_timeout"
	CodeResultNotFound         = "result_not_found"
	CodeIdempotencyKeyReused   = "idempotency_key_reused"
	CodeIdempotencyKeyInFlight = "idempotency_key_in_flight"
	CodeUnsupportedMediaType   = "unsupported_media_type"
	CodeServerBusy             = "server_busy"
	CodeTooManyConnections     = "too_many_connections"
	CodeRequestTimeout         = "request_timeout"
	CodeLoopDetected           = "loop_detected"
	CodeRateLimited            = "rate_limited"
)

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
	setCorrelationID(ctx)
	switch d.Code {
	case queue.CodeBacklogFull, queue.CodeRouteBacklogFull, queue.CodeUnavailable, CodeShuttingDown, CodeServerBusy:
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(1))
	case queue.CodeDiskFull: // space comes back when the backlog drains or an operator acts
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(30))
	}
	writeJSON(ctx, errcode.IngressStatus(d.Code), errorBody{Error: d})
}

// setCorrelationID gives an answer that has no correlation id yet (a
// refusal before there is a message, a health check) one of its own, so
// that a caller can always quote one.
func setCorrelationID(ctx *fasthttp.RequestCtx) {
	if len(ctx.Response.Header.Peek("Sluice-Correlation-Id")) == 0 {
		if id, err := uuid.NewV7(); err == nil {
			ctx.Response.Header.Set("Sluice-Correlation-Id", id.String())
		}
	}
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"`+results.CodeInternal+`","message":"encoding response"}}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}
