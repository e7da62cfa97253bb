package config

import (
	"net/url"
	"strings"
)

// Tracing exports spans over OTLP/HTTP (protobuf) to a collector. It is off
// while OTLPEndpoint is empty (the default); W3C trace context reaches the
// destination either way.
type Tracing struct {
	// OTLPEndpoint is the collector's base URL, e.g. http://collector:4318:
	// spans go to its /v1/traces (as OTEL_EXPORTER_OTLP_ENDPOINT works); a
	// URL whose path already ends in /v1/traces is used as it is.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SampleRatio is the share of new traces recorded, 0 to 1 (unset:
	// DefaultSampleRatio). A message that arrives with a traceparent
	// follows its sampled flag instead (parent-based sampling).
	SampleRatio *float64 `yaml:"sample_ratio"`
	// ServiceName is the service.name resource attribute (default "sluice").
	ServiceName string `yaml:"service_name"`
	// Headers go with every export request (a collector's API key).
	Headers map[string]string `yaml:"headers"`
}

// Tracing defaults.
const (
	DefaultSampleRatio        = 1.0
	DefaultTracingServiceName = "sluice"
	// OTLPTracesPath is appended to tracing.otlp_endpoint.
	OTLPTracesPath = "/v1/traces"
)

// Enabled reports whether spans are exported.
func (t Tracing) Enabled() bool { return t.OTLPEndpoint != "" }

// Ratio is sample_ratio with its default.
func (t Tracing) Ratio() float64 {
	if t.SampleRatio == nil {
		return DefaultSampleRatio
	}
	return *t.SampleRatio
}

// Service is service_name with its default.
func (t Tracing) Service() string {
	if t.ServiceName == "" {
		return DefaultTracingServiceName
	}
	return t.ServiceName
}

// TracesURL is where spans are POSTed: the endpoint with /v1/traces
// appended to its path, unless it ends in it already.
func (t Tracing) TracesURL() string {
	u := strings.TrimRight(t.OTLPEndpoint, "/")
	if strings.HasSuffix(u, OTLPTracesPath) {
		return u
	}
	return u + OTLPTracesPath
}

func (c *Config) validateTracing(bad func(key, format string, a ...any)) {
	t := c.Tracing
	if t.SampleRatio != nil && !(*t.SampleRatio >= 0 && *t.SampleRatio <= 1) {
		bad("tracing.sample_ratio", "must be between 0 and 1, got %v", *t.SampleRatio)
	}
	for k := range t.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			bad("tracing.headers", "%q is not a header name", k)
		}
	}
	if t.OTLPEndpoint == "" {
		if t.SampleRatio != nil || t.ServiceName != "" || len(t.Headers) > 0 {
			bad("tracing.otlp_endpoint", "must be set for the other tracing keys to apply (e.g. http://127.0.0.1:4318)")
		}
		return
	}
	c.checkURL("tracing.otlp_endpoint", t.OTLPEndpoint, bad)
	if u, err := url.Parse(t.OTLPEndpoint); err == nil && (u.RawQuery != "" || u.Fragment != "") {
		bad("tracing.otlp_endpoint", "must not have a query or fragment, got %q", t.OTLPEndpoint)
	}
}
