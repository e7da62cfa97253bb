//go:build !wasip1

package main

import (
	"testing"

	sluice "github.com/sluicehq/sluice/sdk/go"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // rejection message; "" = accepted
	}{
		{"valid", `{"name":"ada","email":"ADA@EXAMPLE.COM","plan":"pro"}`, ""},
		{"valid without email", `{"name":"ada"}`, ""},
		{"not JSON", `name=ada`, `body is not a JSON object: invalid character 'a' in literal null (expecting 'u')`},
		{"empty body", ``, `body is not a JSON object: unexpected end of JSON input`},
		{"trailing data", `{"name":"ada"} x`, `body is not a JSON object: invalid character 'x' after top-level value`},
		{"array", `[{"name":"ada"}]`, `body is not a JSON object: got an array`},
		{"null", `null`, `body is not a JSON object: got null`},
		{"no name", `{"email":"a@b"}`, `"name" is required`},
		{"null name", `{"name":null}`, `"name" must be a string, got null`},
		{"numeric name", `{"name":7}`, `"name" must be a string, got a number`},
		{"empty name", `{"name":""}`, `"name" must not be empty`},
		{"email without @", `{"name":"ada","email":"ada.example.com"}`, `"email" must contain "@"`},
		{"empty email", `{"name":"ada","email":""}`, `"email" must contain "@"`},
		{"email not a string", `{"name":"ada","email":["a@b"]}`, `"email" must be a string, got an array`},
	}
	host := &sluice.TestHost{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := host.Call([]byte(tt.body))
			if tt.want == "" {
				if res.Code != 0 || string(res.Output) != tt.body {
					t.Fatalf("got code %d output %q error %q, want the body passed through", res.Code, res.Output, res.Error)
				}
				return
			}
			if !res.Rejected() || res.Error != tt.want {
				t.Fatalf("got code %d error %q, want rejection %q", res.Code, res.Error, tt.want)
			}
		})
	}
}
