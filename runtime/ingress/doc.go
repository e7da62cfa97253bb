// Package ingress is Sluice's front door: a fasthttp server that accepts
// POST /in/{route}, appends each message to the durable log before it answers
// anything, and then either waits for the outcome (sync routes) or answers
// 202 with the correlation id (async routes). It also serves
// GET /v1/results/{id} and GET /healthz.
//
// errors.go is the one place where outcomes and failures become HTTP
// statuses; every error body is {"error": {"code", "message"}}.
//
// Request bodies are borrowed from fasthttp and copied into the message
// before Append; nothing borrowed outlives the handler.
package ingress
