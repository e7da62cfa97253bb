package sluice

import (
	"errors"
	"fmt"
	"time"
)

// ABIVersion is the version of the Sluice plugin ABI implemented by this SDK (sdk/ABI.md). The SDK exports it
// as sluice_abi_version; the host refuses modules that report a version it does not support.
const ABIVersion = 1

// Handler transforms one message. It returns the output body, or an error to reject the message: the host then
// fails the message with the code plugin_rejected and err.Error() as its message. A nil or empty output with a
// nil error means an empty body. The output is copied by the host before Handler's caller returns, so it may
// alias m.Body.
//
// A panic in a Handler is recovered and reported to the host as a plugin failure (not a rejection); the panic
// value is logged at [LevelError].
type Handler func(m *Message) ([]byte, error)

// Handle registers h as the plugin's transform, replacing any earlier registration. Call it from an init
// function: the host initializes a module with `_initialize`, which runs init functions but never main.
//
// Handle is the one piece of global state the ABI forces on a guest: the host calls fixed exported functions,
// so the SDK has to find the handler through a package variable.
func Handle(h Handler) {
	g.handler = h
}

// Reject returns an error that rejects the current message with msg as the reason. Any other non-nil error
// returned by a [Handler] rejects the message too; Reject only reads better.
func Reject(msg string) error {
	return errors.New(msg)
}

// Message is one message being transformed. It and its Body are owned by the SDK and reused for the next
// message: they are valid only until the [Handler] returns. Copy what you keep. Its methods call the host and
// may only be used while the Handler runs.
type Message struct {
	// Body is the input: the incoming message body, or the previous plugin's output in a chain.
	Body []byte
}

// Meta returns the message metadata stored under key, and whether the host knows it. See sdk/ABI.md for the
// keys; the accessors below cover the common ones.
func (m *Message) Meta(key string) (string, bool) {
	g.key = append(g.key[:0], key...)
	return g.lookup(g.key)
}

// Route returns the name of the route the message arrived on.
func (m *Message) Route() string {
	v, _ := m.Meta("route")
	return v
}

// CorrelationID returns the message's correlation ID.
func (m *Message) CorrelationID() string {
	v, _ := m.Meta("correlation_id")
	return v
}

// ContentType returns the content type of the incoming message (not of a previous plugin's output).
func (m *Message) ContentType() string {
	v, _ := m.Meta("content_type")
	return v
}

// ReceivedAt returns when the host accepted the message, or the zero time if the host did not say.
func (m *Message) ReceivedAt() time.Time {
	v, ok := m.Meta("received_at")
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Plugin returns the name this plugin is configured under.
func (m *Message) Plugin() string {
	v, _ := m.Meta("plugin")
	return v
}

// Header returns the first value of the incoming request header name (matched case-insensitively), or "" if
// the request did not carry it.
func (m *Message) Header(name string) string {
	g.key = append(append(g.key[:0], "header:"...), name...)
	v, _ := g.lookup(g.key)
	return v
}

// SetContentType sets the content type of the output, sent to the destination.
func (m *Message) SetContentType(contentType string) {
	hostSetContentType(contentType)
}

// SetHeader sets a header on the destination request, replacing an earlier value of the same name.
func (m *Message) SetHeader(name, value string) {
	hostSetHeader(name, value)
}

// Now returns the host's wall clock, in UTC. Prefer it to time.Now for timestamps the host may want to control
// (for example in replays and tests).
func Now() time.Time {
	return time.Unix(0, hostNow()).UTC()
}

// Level is the severity of a log record.
type Level int32

// Log levels, as numbered by the ABI.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// String returns the level's lower-case name.
func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return fmt.Sprintf("level(%d)", int32(l))
}

// Log sends msg to the host's log at the given level. It may be called at any time, including from init.
// Standard output and standard error also reach the host log, without a level.
func Log(level Level, msg string) {
	hostLog(level, msg)
}

// Logf formats its arguments like fmt.Sprintf and sends the result to the host's log.
func Logf(level Level, format string, args ...any) {
	hostLog(level, fmt.Sprintf(format, args...))
}
