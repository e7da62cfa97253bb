package dispatch

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"
)

// Error codes of a failed delivery (no HTTP answer at all).
const (
	CodeTimeout     = "destination_timeout"
	CodeUnreachable = "destination_unreachable"
	// CodeResponseTooLarge: the destination's answer had a body over
	// Options.MaxResponseSize (not read, not kept).
	CodeResponseTooLarge = "destination_response_too_large"
	// CodeDenied: every address of the destination's host is in
	// Options.DenyNetworks; no connection was made. Err is a *DeniedError.
	CodeDenied = "destination_denied"
)

// Error is a delivery that got no usable HTTP answer: none at all, one over
// the size limit, or none asked for because the destination is denied.
type Error struct {
	Code  string
	URL   string
	Err   error
	Limit int // CodeResponseTooLarge: the limit the body went over
}

func (e *Error) Error() string {
	switch e.Code {
	case CodeTimeout:
		return fmt.Sprintf("destination %s did not answer in time: %v", e.URL, e.Err)
	case CodeResponseTooLarge:
		return fmt.Sprintf("destination %s answered with a body over the %d-byte limit (dispatch.max_response_size)", e.URL, e.Limit)
	case CodeDenied:
		return fmt.Sprintf("destination %s refused: %v", e.URL, e.Err)
	default:
		return fmt.Sprintf("destination %s unreachable: %v", e.URL, e.Err)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// HopsHeader counts the times a message went through Sluice: every delivery
// and callback carries one more than its message arrived with, and the
// ingress refuses a message that has come round too often (a loop).
const HopsHeader = "Sluice-Hops"

// Header is a name/value pair.
type Header struct{ Name, Value string }

// Request is one delivery. Body is only read during Send.
type Request struct {
	URL         string
	Body        []byte
	ContentType string
	Headers     []Header
	Timeout     time.Duration
}

// Response is what the destination answered; Send fills it with copies.
type Response struct {
	Status  int
	Headers []Header
	Body    []byte
}

// Options tune the client. Sluice passes its config's values (the defaults
// are runtime/config's).
type Options struct {
	// MaxConnsPerHost caps the connections to one destination host (0:
	// fasthttp.DefaultMaxConnsPerHost).
	MaxConnsPerHost int
	UserAgent       string
	// MaxResponseSize caps the body of a destination's answer: past it the
	// delivery fails with CodeResponseTooLarge instead of the answer being
	// buffered. 0: no cap.
	MaxResponseSize int
	// DenyNetworks refuses connections to addresses in these ranges (see
	// ParseNetworks), checked on every new connection after resolving the
	// host. Empty: no check, fasthttp's own dialer.
	DenyNetworks []netip.Prefix
}

// Dispatcher sends requests. Safe for concurrent use.
type Dispatcher struct {
	client  *fasthttp.Client
	maxResp int
	dialer  *denyDialer // nil: fasthttp's default dialer
}

// New returns a Dispatcher.
func New(o Options) *Dispatcher {
	if o.MaxConnsPerHost <= 0 {
		o.MaxConnsPerHost = fasthttp.DefaultMaxConnsPerHost
	}
	if o.UserAgent == "" {
		o.UserAgent = "sluice"
	}
	if o.MaxResponseSize < 0 {
		o.MaxResponseSize = 0
	}
	d := &Dispatcher{maxResp: o.MaxResponseSize, client: &fasthttp.Client{
		MaxResponseBodySize:           o.MaxResponseSize,
		Name:                          o.UserAgent,
		MaxConnsPerHost:               o.MaxConnsPerHost,
		MaxIdleConnDuration:           30 * time.Second,
		MaxConnWaitTimeout:            time.Second,
		NoDefaultUserAgentHeader:      false,
		DisableHeaderNamesNormalizing: true,
		RetryIf:                       func(*fasthttp.Request) bool { return false }, // retries belong to the worker's policy
	}}
	if len(o.DenyNetworks) > 0 {
		d.dialer = newDenyDialer(o.DenyNetworks, d.client.DialDualStack)
		d.client.DialTimeout = d.dialer.dial
	}
	return d
}

// Send POSTs req and fills resp. It returns an *Error when no HTTP answer
// arrived; any HTTP status, 2xx or not, is a successful Send.
func (d *Dispatcher) Send(req *Request, resp *Response) error {
	freq := fasthttp.AcquireRequest()
	fresp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(freq)
	defer fasthttp.ReleaseResponse(fresp)
	freq.SetRequestURI(req.URL)
	freq.Header.SetMethod(fasthttp.MethodPost)
	if req.ContentType != "" {
		freq.Header.SetContentType(req.ContentType)
	}
	for _, h := range req.Headers {
		freq.Header.Set(h.Name, h.Value)
	}
	freq.SetBodyRaw(req.Body)
	err := d.client.DoTimeout(freq, fresp, req.Timeout)
	if err != nil {
		code := CodeUnreachable
		var ne net.Error
		var de *DeniedError
		switch {
		case errors.As(err, &de):
			return &Error{Code: CodeDenied, URL: req.URL, Err: de}
		case errors.Is(err, fasthttp.ErrBodyTooLarge):
			return &Error{Code: CodeResponseTooLarge, URL: req.URL, Err: err, Limit: d.maxResp}
		case errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
			errors.Is(err, fasthttp.ErrNoFreeConns) || (errors.As(err, &ne) && ne.Timeout()):
			code = CodeTimeout
		}
		return &Error{Code: code, URL: req.URL, Err: err}
	}
	resp.Status = fresp.StatusCode()
	resp.Body = append(resp.Body[:0], fresp.Body()...)
	resp.Headers = resp.Headers[:0]
	for k, v := range fresp.Header.All() {
		resp.Headers = append(resp.Headers, Header{string(k), string(v)})
	}
	return nil
}
