//go:build !wasip1

package main

import (
	"testing"
	"time"

	sluice "github.com/sluicehq/sluice/sdk/go"
)

func TestMapRecord(t *testing.T) {
	host := &sluice.TestHost{
		Meta: map[string]string{"route": "demo-sync", "correlation_id": "c-42"},
		Now:  time.Date(2026, 5, 6, 7, 8, 9, 123000000, time.FixedZone("X", 3600)),
	}
	tests := []struct {
		name string
		body string
		want string // output, or the rejection message when reject is set
		rej  bool
	}{
		{
			name: "full record",
			body: `{"name":"ada","email":"ADA@EXAMPLE.COM","plan":"pro","seats":12345678901234567890,"tags":["a", "b"]}`,
			want: `{"full_name":"ada","email":"ada@example.com","source":{"route":"demo-sync","correlation_id":"c-42"},` +
				`"synced_at":"2026-05-06T06:08:09.123Z","attributes":{"plan":"pro","seats":12345678901234567890,"tags":["a","b"]}}`,
		},
		{
			name: "no email, no other fields",
			body: `{"name":"ada"}`,
			want: `{"full_name":"ada","source":{"route":"demo-sync","correlation_id":"c-42"},` +
				`"synced_at":"2026-05-06T06:08:09.123Z","attributes":{}}`,
		},
		{name: "array", body: `[]`, want: `body is not a JSON object: got array`, rej: true},
		{name: "null", body: `null`, want: `body is not a JSON object: got null`, rej: true},
		{name: "not JSON", body: `{`, want: `body is not a JSON object: unexpected end of JSON input`, rej: true},
		{name: "no name", body: `{"email":"a@b"}`, want: `"name" is required`, rej: true},
		{name: "name not a string", body: `{"name":{}}`, want: `"name" must be a string`, rej: true},
		{name: "email not a string", body: `{"name":"ada","email":1}`, want: `"email" must be a string`, rej: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := host.Call([]byte(tt.body))
			if tt.rej {
				if !res.Rejected() || res.Error != tt.want {
					t.Fatalf("got code %d error %q, want rejection %q", res.Code, res.Error, tt.want)
				}
				return
			}
			if res.Code != 0 || string(res.Output) != tt.want {
				t.Fatalf("got code %d error %q output\n%s\nwant\n%s", res.Code, res.Error, res.Output, tt.want)
			}
			if res.ContentType != "application/json" || res.Headers["X-Sluice-Plugin"] != "demo-mapper" {
				t.Fatalf("content type %q headers %v", res.ContentType, res.Headers)
			}
		})
	}
}
