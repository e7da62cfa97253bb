package config

import (
	"strings"
	"testing"
)

func TestTracingConfig(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"ratio above 1", "tracing: {otlp_endpoint: 'http://collector:4318', sample_ratio: 1.5}", "tracing.sample_ratio: must be between 0 and 1, got 1.5"},
		{"ratio negative", "tracing: {otlp_endpoint: 'http://collector:4318', sample_ratio: -0.1}", "tracing.sample_ratio: must be between 0 and 1"},
		{"scheme", "tracing: {otlp_endpoint: 'grpc://collector:4317'}", `tracing.otlp_endpoint: must be an http:// or https:// URL, got "grpc://collector:4317"`},
		{"no host", "tracing: {otlp_endpoint: 'http://'}", "tracing.otlp_endpoint: needs a host"},
		{"query", "tracing: {otlp_endpoint: 'http://collector:4318?x=1'}", "tracing.otlp_endpoint: must not have a query"},
		{"no endpoint", "tracing: {sample_ratio: 0.5}", "tracing.otlp_endpoint: must be set for the other tracing keys to apply"},
		{"header name", "tracing: {otlp_endpoint: 'http://collector:4318', headers: {'a b': x}}", `tracing.headers: "a b" is not a header name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, tc.want)
			}
		})
	}

	c, err := Parse([]byte("tracing: {otlp_endpoint: 'http://collector:4318/', sample_ratio: 0, service_name: edge, headers: {x-api-key: k}}"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil && strings.Contains(err.Error(), "tracing") {
		t.Fatal(err)
	}
	tr := c.Tracing
	if !tr.Enabled() || tr.Ratio() != 0 || tr.Service() != "edge" || tr.Headers["x-api-key"] != "k" {
		t.Fatalf("tracing = %+v", tr)
	}
	if got := tr.TracesURL(); got != "http://collector:4318/v1/traces" {
		t.Fatalf("TracesURL() = %q", got)
	}
	if d := Default().Tracing; d.Enabled() || d.Ratio() != DefaultSampleRatio || d.Service() != "sluice" {
		t.Fatalf("default tracing = %+v", d)
	}
	for in, want := range map[string]string{
		"https://otel.example.com/v1/traces": "https://otel.example.com/v1/traces",
		"https://otel.example.com/otlp":      "https://otel.example.com/otlp/v1/traces",
		"http://127.0.0.1:4318":              "http://127.0.0.1:4318/v1/traces",
	} {
		if got := (Tracing{OTLPEndpoint: in}).TracesURL(); got != want {
			t.Errorf("TracesURL(%q) = %q, want %q", in, got, want)
		}
	}
}
