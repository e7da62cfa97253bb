package verify

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// body1K is a 1 KiB JSON body with top-level "id" and "event_id" first,
// as Stripe and Slack put them.
var body1K = func() []byte {
	b := []byte(`{"id":"evt_1OkP9zLkdIwHu7ix0Hq3UR5b","event_id":"Ev08MFMKH6","pad":"`)
	b = append(b, bytes.Repeat([]byte("x"), 1024-len(b)-2)...)
	return append(b, `"}`...)
}()

// hotCase is one scheme's verifier with a valid request to it, as fasthttp
// hands it to the ingress, signed by the test's own signer.
type hotCase struct {
	name string
	v    *Verifier
	req  *fasthttp.Request
}

// hotCases builds a valid 1 KiB request for every scheme, each verifier
// with two secrets (keys), the second one matching: the rotation case.
func hotCases(tb testing.TB) []hotCase {
	body := string(body1K)
	key := []byte("0123456789abcdef0123456789abcdef")
	wh := "whsec_" + base64.StdEncoding.EncodeToString(key)
	mk := func(name string, c Config, headers ...string) hotCase {
		req := new(fasthttp.Request)
		req.Header.SetMethod("POST")
		req.SetRequestURI("/in/" + name)
		for i := 0; i < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		req.SetBody(body1K)
		return hotCase{name, mustNew(tb, c), req}
	}
	return []hotCase{
		mk("github", Config{Scheme: SchemeGitHub, Secrets: secrets("old-secret", "new-secret")},
			"X-Hub-Signature-256", "sha256="+hexMAC("new-secret", body), "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
		mk("stripe", Config{Scheme: SchemeStripe, Secrets: secrets("old-secret", "new-secret")},
			"Stripe-Signature", "t="+nowTS+",v1="+hexMAC("new-secret", nowTS, ".", body)+",v0=00"),
		mk("shopify", Config{Scheme: SchemeShopify, Secrets: secrets("old-secret", "new-secret")},
			"X-Shopify-Hmac-Sha256", b64MAC([]byte("new-secret"), body), "X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
		mk("slack", Config{Scheme: SchemeSlack, Secrets: secrets("old-secret", "new-secret")},
			"X-Slack-Signature", "v0="+hexMAC("new-secret", "v0:", nowTS, ":", body), "X-Slack-Request-Timestamp", nowTS),
		mk("standard_webhooks", Config{Scheme: SchemeStandardWebhooks, Secrets: secrets("whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0", wh)},
			"webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "webhook-timestamp", nowTS,
			"webhook-signature", "v1,"+b64MAC(key, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W.", nowTS, ".", body)),
		mk("hmac", Config{Scheme: SchemeHMAC, Secrets: secrets("old-secret", "new-secret"), Header: "X-Signature",
			Algorithm: "sha512", Encoding: "base64", Prefix: "sha512=", IDHeader: "X-Request-Id"},
			"X-Signature", "sha512="+base64.StdEncoding.EncodeToString(sum(sha512.New, []byte("new-secret"), body)), "X-Request-Id", "req_1"),
		mk("api_key", Config{Scheme: SchemeAPIKey, Secrets: secrets("sk_partner_alpha_0001", "sk_partner_bravo_0002")},
			"Authorization", "Bearer sk_partner_bravo_0002"),
	}
}

// BenchmarkVerifyGitHub is the common hot path: a 1 KiB GitHub delivery,
// one secret configured.
func BenchmarkVerifyGitHub(b *testing.B) {
	hc := hotCases(b)[0]
	hc.v = mustNew(b, Config{Scheme: SchemeGitHub, Secrets: secrets("new-secret")})
	benchVerify(b, hc)
}

// BenchmarkVerify runs every scheme on a 1 KiB body during a rotation: two
// secrets (keys) configured and the second one matching, so the signature
// schemes compute two HMACs.
func BenchmarkVerify(b *testing.B) {
	for _, hc := range hotCases(b) {
		b.Run(hc.name, func(b *testing.B) { benchVerify(b, hc) })
	}
}

func benchVerify(b *testing.B, hc hotCase) {
	b.ReportAllocs()
	b.SetBytes(int64(len(hc.req.Body())))
	at := time.Unix(now.Unix(), 0)
	for b.Loop() {
		if _, err := hc.v.Verify(&hc.req.Header, hc.req.Body(), at); err != nil {
			b.Fatal(err)
		}
	}
}
