package verify

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The ingress passes fasthttp's request header as it is.
var _ Header = (*fasthttp.RequestHeader)(nil)

// readRequest parses a request as it arrives on the wire, header names in
// the sender's case.
func readRequest(t testing.TB, raw string) *fasthttp.Request {
	t.Helper()
	req := new(fasthttp.Request)
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("reading the request: %v", err)
	}
	return req
}

// TestFastHTTPHeader verifies documented vectors through fasthttp's
// header, with the names in the case senders use (Standard Webhooks
// senders send them lower-case).
func TestFastHTTPHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		raw  string
		now  int64
		id   string
	}{
		{
			name: "github",
			cfg:  Config{Scheme: SchemeGitHub, Secrets: secrets("It's a Secret to Everybody")},
			raw: "POST /in/gh HTTP/1.1\r\nHost: sluice\r\nx-hub-signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\r\n" +
				"X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958\r\nContent-Length: 13\r\n\r\nHello, World!",
			id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		},
		{
			name: "standard webhooks",
			cfg:  Config{Scheme: SchemeStandardWebhooks, Secrets: secrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")},
			raw: "POST /in/sw HTTP/1.1\r\nHost: sluice\r\nwebhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\r\nwebhook-timestamp: 1614265330\r\n" +
				"webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\r\nContent-Length: 20\r\n\r\n{\"test\": 2432232314}",
			now: 1614265330, id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := readRequest(t, tc.raw)
			at := now
			if tc.now != 0 {
				at = time.Unix(tc.now, 0)
			}
			r, err := mustNew(t, tc.cfg).Verify(&req.Header, req.Body(), at)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if string(r.DeliveryID) != tc.id {
				t.Errorf("DeliveryID = %q, want %q", r.DeliveryID, tc.id)
			}
		})
	}
}
