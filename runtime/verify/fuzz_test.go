package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The seed corpora are in code (f.Add), so plain `go test` runs every
// target on them as a unit test.

// FuzzParseStripeSignature: never panics; what it accepts has exactly one
// numeric t, and every signature it yields is the value of a v1= element.
func FuzzParseStripeSignature(f *testing.F) {
	good := strings.Repeat("5257a869e7ecebed", 4)
	for _, s := range []string{
		"t=1492774577,v1=" + good + ",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
		"t=1492774577,v1=" + good + ",v1=" + strings.ToUpper(good),
		"v1=" + good + ",t=1",
		"t=1, v1=" + good,
		"t=1,v1=zz", "t=,v1=" + good, "t=1,t=2,v1=" + good, "t=1,,v1=" + good, "t=1,v1",
		"", ",", "=", "t=", "v1=", "t=1=2,v1=" + good + "=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, val string) {
		ts, tv, sigs, err := parseStripeSignature([]byte(val))
		if err != nil {
			if err.Code != CodeSignatureInvalid || ts != nil {
				t.Fatalf("error %+v with ts %q", err, ts)
			}
			return
		}
		if n, ok := parseUnix(ts); !ok || n != tv {
			t.Fatalf("t %q parsed as %d", ts, tv)
		}
		tElements := 0
		for _, e := range strings.Split(val, ",") {
			if strings.HasPrefix(strings.Trim(e, " \t"), "t=") {
				tElements++
			}
		}
		if tElements != 1 {
			t.Fatalf("accepted %q with %d t= elements", val, tElements)
		}
		yielded := 0
		for {
			s, ok := sigs.next()
			if !ok {
				break
			}
			yielded++
			if !strings.Contains(val, "v1="+string(s)) {
				t.Fatalf("yielded %q, not a v1 value of %q", s, val)
			}
		}
		if yielded == 0 {
			t.Fatalf("accepted %q without a v1 signature", val)
		}
	})
}

// FuzzParseSignatureList: never panics; what it accepts has a v1 entry
// that decodes to 32 bytes, and every signature it yields follows "v1,".
func FuzzParseSignatureList(f *testing.F) {
	good := "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	for _, s := range []string{
		"v1," + good,
		"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc " + good + " v1," + good,
		"v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== v1," + good,
		"v1a,AAAA", "v1,", "v1,***", "  v1," + good + "  ", "v1," + strings.TrimRight(good, "="), "", " ", ",",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, val string) {
		sigs, err := parseSignatureList([]byte(val))
		if err != nil {
			if err.Code != CodeSignatureInvalid {
				t.Fatalf("error %+v", err)
			}
			return
		}
		decoded := 0
		var buf [maxDecoded]byte
		for {
			s, ok := sigs.next()
			if !ok {
				break
			}
			if !strings.Contains(val, "v1,"+string(s)) {
				t.Fatalf("yielded %q, not a v1 value of %q", s, val)
			}
			if _, ok := decodeSignature(buf[:], encBase64, sha256.Size, s); ok {
				decoded++
			}
		}
		if decoded == 0 {
			t.Fatalf("accepted %q without a v1 signature that decodes", val)
		}
	})
}

// FuzzDecodeSignature: never panics, and what it accepts round-trips: it
// is the encoding of exactly size bytes (hex in either case, base64 padded
// or not).
func FuzzDecodeSignature(f *testing.F) {
	mac := bytes.Repeat([]byte{0xa5, 0x3c}, 32)
	for _, size := range []int{20, 32, 64} {
		f.Add(false, uint8(size), hex.EncodeToString(mac[:size]))
		f.Add(false, uint8(size), strings.ToUpper(hex.EncodeToString(mac[:size])))
		f.Add(true, uint8(size), base64.StdEncoding.EncodeToString(mac[:size]))
		f.Add(true, uint8(size), base64.RawStdEncoding.EncodeToString(mac[:size]))
	}
	f.Add(true, uint8(32), "YLC5aLhyNYhzt3rjD/v2I6xZDVsVoFMDYslZ/MJ+Xtx=")
	f.Add(true, uint8(32), "YLC5aLhyNYhzt3rjD/v2I6xZDVsVoFMDYslZ/MJ+\nXtw")
	f.Add(false, uint8(32), strings.Repeat("zz", 32))
	f.Fuzz(func(t *testing.T, b64 bool, size uint8, src string) {
		n := []int{20, 32, 64}[int(size)%3]
		enc := encHex
		if b64 {
			enc = encBase64
		}
		var dst [maxDecoded]byte
		got, ok := decodeSignature(dst[:], enc, n, []byte(src))
		if !ok {
			return
		}
		if got != n {
			t.Fatalf("decoded %d bytes, want %d", got, n)
		}
		switch {
		case !b64 && !strings.EqualFold(hex.EncodeToString(dst[:n]), src):
			t.Fatalf("hex %q decoded to %x", src, dst[:n])
		case b64 && base64.StdEncoding.EncodeToString(dst[:n]) != src && base64.RawStdEncoding.EncodeToString(dst[:n]) != src:
			t.Fatalf("base64 %q decoded to %x", src, dst[:n])
		}
	})
}

// FuzzJSONTopLevelString: never panics, and on valid JSON it agrees with
// encoding/json about the first top-level member of that name (written
// without escapes).
func FuzzJSONTopLevelString(f *testing.F) {
	for _, s := range []string{
		`{"id":"evt_1","object":"event"}`,
		`{"data":{"id":"inner","l":[{"id":"x"},"]}"]},"s":"}","id":"outer"}`,
		`{"n":-1.5e3,"t":true,"z":null,"event_id":"Ev1","id":"a\u0062"}`,
		`{"i\u0064":"a","id":"b"}`, `{"id":1}`, `{"id":"a","id":"b"}`, `["id"]`, `{"x":"a`, `{"x":,"id":"b"}`, "", "{", `{"id":"\x"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, key := range []string{"id", "event_id"} {
			got := jsonTopLevelString([]byte(body), key)
			if !json.Valid([]byte(body)) {
				continue
			}
			want, ok := firstMember(body, key)
			if !ok {
				continue
			}
			if string(got) != want || (want == "" && got != nil) {
				t.Fatalf("jsonTopLevelString(%q, %q) = %q, encoding/json says %q", body, key, got, want)
			}
		}
	})
}

// firstMember is the oracle: the string value of the first top-level
// member named key, written without escapes, found with json.Decoder; ok
// is false when body is not an object.
func firstMember(body, key string) (string, bool) {
	dec := json.NewDecoder(strings.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		end := int(dec.InputOffset())
		plain := end >= len(key)+2 && body[end-len(key)-2:end] == `"`+key+`"`
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "", false
		}
		if tok == key && plain {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return "", true // not a string
			}
			return s, true
		}
	}
	return "", true
}

// fuzzSecrets are the secrets of FuzzVerify's verifiers (keys for api_key).
var fuzzSecrets = []string{"fuzz-secret-one", "fuzz-secret-two"}

var fuzzConfigs = []Config{
	{Scheme: SchemeGitHub},
	{Scheme: SchemeStripe},
	{Scheme: SchemeShopify},
	{Scheme: SchemeSlack},
	{Scheme: SchemeStandardWebhooks},
	{Scheme: SchemeHMAC, Header: "X-Signature", Algorithm: "sha512", Encoding: "base64", Prefix: "sig:", IDHeader: "X-Id"},
	{Scheme: SchemeAPIKey},
}

// fuzzHeader places FuzzVerify's inputs in scheme s's headers.
func fuzzHeader(s int, sig, ts, id string) header {
	switch fuzzConfigs[s].Scheme {
	case SchemeGitHub:
		return header{"X-Hub-Signature-256": sig, "X-GitHub-Delivery": id}
	case SchemeStripe:
		return header{"Stripe-Signature": sig}
	case SchemeShopify:
		return header{"X-Shopify-Hmac-Sha256": sig, "X-Shopify-Webhook-Id": id}
	case SchemeSlack:
		return header{"X-Slack-Signature": sig, "X-Slack-Request-Timestamp": ts}
	case SchemeStandardWebhooks:
		return header{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig}
	case SchemeHMAC:
		return header{"X-Signature": sig, "X-Id": id}
	}
	return header{"Authorization": sig, "X-Api-Key": id}
}

// genuine is FuzzVerify's oracle, written independently of the package:
// whether the request really carries a valid signature (key) from one of
// fuzzSecrets, within the tolerance. It is more lenient than the package
// (it only looks for the right signature somewhere it may be), so that
// Verify accepting what genuine rejects is a forgery let through.
func genuine(s int, sig, ts, id, body string, at time.Time) bool {
	inTime := func(ts string) bool {
		n, err := strconv.ParseInt(ts, 10, 64)
		d := at.Unix() - n
		return err == nil && d <= 300 && d >= -300
	}
	for _, secret := range fuzzSecrets {
		key := []byte(secret)
		switch fuzzConfigs[s].Scheme {
		case SchemeGitHub:
			if strings.EqualFold(sig, "sha256="+hexMAC(secret, body)) {
				return true
			}
		case SchemeStripe:
			for _, e := range strings.Split(sig, ",") {
				if t, ok := strings.CutPrefix(strings.TrimSpace(e), "t="); ok && inTime(t) &&
					strings.Contains(strings.ToLower(sig), "v1="+hexMAC(secret, t, ".", body)) {
					return true
				}
			}
		case SchemeShopify:
			m := b64MAC(key, body)
			if sig == m || sig == strings.TrimRight(m, "=") {
				return true
			}
		case SchemeSlack:
			if inTime(ts) && strings.EqualFold(sig, "v0="+hexMAC(secret, "v0:", ts, ":", body)) {
				return true
			}
		case SchemeStandardWebhooks:
			m := b64MAC(key, id, ".", ts, ".", body)
			if inTime(ts) && (strings.Contains(sig, "v1,"+m) || strings.Contains(sig, "v1,"+strings.TrimRight(m, "="))) {
				return true
			}
		case SchemeHMAC:
			m := base64.StdEncoding.EncodeToString(sum(sha512.New, key, body))
			if sig == "sig:"+m || sig == "sig:"+strings.TrimRight(m, "=") {
				return true
			}
		case SchemeAPIKey:
			if strings.TrimSpace(id) == secret || strings.HasSuffix(strings.TrimSpace(sig), " "+secret) {
				return true
			}
		}
	}
	return false
}

// fuzzVerifySeed is one request of FuzzVerify's seed corpus.
type fuzzVerifySeed struct {
	scheme            string
	sig, ts, id, body string
	genuine           bool // signed with one of fuzzSecrets, in time
}

func fuzzVerifySeeds() []fuzzVerifySeed {
	const body = `{"id":"evt_1","event_id":"Ev1","n":1}`
	s1, s2 := fuzzSecrets[0], fuzzSecrets[1]
	return []fuzzVerifySeed{
		{SchemeGitHub, "sha256=" + hexMAC(s2, body), "", "delivery-1", body, true},
		{SchemeGitHub, "sha256=" + hexMAC(s1, body), "", "", body + " ", false},
		{SchemeStripe, "t=" + nowTS + ",v1=" + hexMAC(s1, nowTS, ".", body) + ",v0=00", "", "", body, true},
		{SchemeStripe, "t=" + ts(-400) + ",v1=" + hexMAC(s1, ts(-400), ".", body), "", "", body, false},
		{SchemeShopify, b64MAC([]byte(s2), body), "", "hook-1", body, true},
		{SchemeShopify, b64MAC([]byte("other"), body), "", "hook-1", body, false},
		{SchemeSlack, "v0=" + hexMAC(s1, "v0:", nowTS, ":", body), nowTS, "", body, true},
		{SchemeSlack, "v0=" + hexMAC(s1, "v0:", nowTS, ":", body), ts(1), "", body, false},
		{SchemeStandardWebhooks, "v1," + b64MAC([]byte(s1), "msg_1.", nowTS, ".", body) + " v1a,xyz", nowTS, "msg_1", body, true},
		{SchemeStandardWebhooks, "v1," + b64MAC([]byte(s1), "msg_1.", nowTS, ".", body), nowTS, "msg_2", body, false},
		{SchemeHMAC, "sig:" + base64.StdEncoding.EncodeToString(sum(sha512.New, []byte(s2), body)), "", "req-1", body, true},
		{SchemeHMAC, "sig:" + base64.StdEncoding.EncodeToString(sum(sha512.New, []byte(s2), body))[1:], "", "req-1", body, false},
		{SchemeAPIKey, "Bearer " + s2, "", "", "", true},
		{SchemeAPIKey, "Basic abc", "", s1, "", true},
		{SchemeAPIKey, "Bearer fuzz-secret-on", "", "", "", false},
	}
}

func fuzzVerifiers(tb testing.TB) []*Verifier {
	vs := make([]*Verifier, len(fuzzConfigs))
	for i, c := range fuzzConfigs {
		c.Secrets = secrets(fuzzSecrets...)
		vs[i] = mustNew(tb, c)
	}
	return vs
}

func schemeIndex(name string) int {
	for i, c := range fuzzConfigs {
		if c.Scheme == name {
			return i
		}
	}
	return -1
}

// TestFuzzVerifySeeds keeps FuzzVerify's oracle honest: the genuine seeds
// are accepted by Verify and by the oracle, the others by neither.
func TestFuzzVerifySeeds(t *testing.T) {
	vs := fuzzVerifiers(t)
	for _, s := range fuzzVerifySeeds() {
		i := schemeIndex(s.scheme)
		_, err := vs[i].Verify(fuzzHeader(i, s.sig, s.ts, s.id), []byte(s.body), now)
		if (err == nil) != s.genuine || genuine(i, s.sig, s.ts, s.id, s.body, now) != s.genuine {
			t.Errorf("%s %q: Verify error %v, oracle %v, want genuine %v", s.scheme, s.sig, err,
				genuine(i, s.sig, s.ts, s.id, s.body, now), s.genuine)
		}
	}
}

// FuzzVerify: Verify never panics, never accepts a request the oracle
// says is not genuinely signed, and its messages never contain a secret.
// The seeds include genuine requests of every scheme and near misses.
func FuzzVerify(f *testing.F) {
	for _, s := range fuzzVerifySeeds() {
		f.Add(uint8(schemeIndex(s.scheme)), s.sig, s.ts, s.id, s.body)
	}
	f.Add(uint8(200), "", "", "", "")
	verifiers := fuzzVerifiers(f)
	at := now
	f.Fuzz(func(t *testing.T, scheme uint8, sig, ts, id, body string) {
		s := int(scheme) % len(fuzzConfigs)
		h := fuzzHeader(s, sig, ts, id)
		r, err := verifiers[s].Verify(h, []byte(body), at)
		if err == nil {
			if !genuine(s, sig, ts, id, body, at) {
				t.Fatalf("%s accepted a request the oracle says is forged: %q", fuzzConfigs[s].Scheme, h)
			}
			if r.Key < 0 || r.Key >= len(fuzzSecrets) {
				t.Fatalf("Key %d", r.Key)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || r.Key != -1 || r.DeliveryID != nil {
			t.Fatalf("error %v (%T), result %+v", err, err, r)
		}
		for _, secret := range fuzzSecrets {
			if strings.Contains(e.Message, secret) {
				t.Fatalf("message %q contains a secret", e.Message)
			}
		}
	})
}
