package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" // #nosec G505 -- HMAC-SHA1 for senders that sign with it (auth.algorithm: sha1); HMAC needs no collision resistance
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
)

// Header is how Verify reads request headers: Peek returns the value of the
// named header, empty when it is absent. Names must match case-insensitively,
// as fasthttp's *RequestHeader does (unless the server sets
// DisableHeaderNamesNormalizing). The returned bytes are only read.
type Header interface {
	Peek(key string) []byte
}

// Scheme names, as a route's auth.verify spells them.
const (
	SchemeGitHub           = "github"
	SchemeStripe           = "stripe"
	SchemeShopify          = "shopify"
	SchemeSlack            = "slack"
	SchemeStandardWebhooks = "standard_webhooks"
	SchemeHMAC             = "hmac"
	SchemeAPIKey           = "api_key"
)

// Error codes, stable and machine-readable: the ingress maps them to HTTP
// statuses.
const (
	CodeSignatureInvalid        = "signature_invalid"
	CodeUnauthorized            = "unauthorized"
	CodeTimestampOutOfTolerance = "timestamp_out_of_tolerance"
)

// DefaultTolerance is how far a signed timestamp may be from now, in either
// direction, when Config.Tolerance is zero.
const DefaultTolerance = 5 * time.Minute

var (
	// ErrSignatureInvalid is what an *Error with Code signature_invalid
	// unwraps to: a signature missing, malformed, or matching no secret.
	ErrSignatureInvalid = errors.New("verify: signature invalid")
	// ErrUnauthorized is what an *Error with Code unauthorized unwraps to:
	// an API key missing or matching no configured key.
	ErrUnauthorized = errors.New("verify: unauthorized")
	// ErrTimestampOutOfTolerance is what an *Error with Code
	// timestamp_out_of_tolerance unwraps to: a signed timestamp too old or
	// too far in the future.
	ErrTimestampOutOfTolerance = errors.New("verify: timestamp out of tolerance")
	// ErrConfig is wrapped by every error New returns.
	ErrConfig = errors.New("verify: invalid config")
)

// Error is why Verify rejected a request. Message names the header and the
// check that failed; it never contains a secret, a key, the expected
// signature or the received one, so it may be sent back to the client.
// Errors may be shared between calls: do not modify one.
type Error struct {
	Code    string // CodeSignatureInvalid, CodeUnauthorized or CodeTimestampOutOfTolerance
	Message string
}

func (e *Error) Error() string { return "verify: " + e.Code + ": " + e.Message }

// Unwrap returns the sentinel of e's Code, so errors.Is(err,
// ErrSignatureInvalid) and the like work.
func (e *Error) Unwrap() error {
	switch e.Code {
	case CodeSignatureInvalid:
		return ErrSignatureInvalid
	case CodeUnauthorized:
		return ErrUnauthorized
	case CodeTimestampOutOfTolerance:
		return ErrTimestampOutOfTolerance
	}
	return nil
}

// Config is one route's auth block, with its secrets already resolved by the
// caller. Field names in New's errors are the YAML keys (verify, header,
// algorithm, encoding, prefix, id_header, tolerance).
type Config struct {
	// Scheme is one of Schemes(): github, stripe, shopify, slack,
	// standard_webhooks, hmac, api_key.
	Scheme string
	// Secrets are the signing secrets; any one may match (rotation).
	// For api_key they are the accepted keys. For standard_webhooks a
	// secret "whsec_<base64>" is base64-decoded into the key, as the spec
	// serializes it; a secret without that prefix is used as is, as the raw
	// key bytes (like the reference libraries' NewWebhookRaw; note their
	// NewWebhook would base64-decode an unprefixed secret, so add whsec_ to
	// such a secret). New copies the secrets.
	Secrets [][]byte
	// Header (hmac, required) is the header carrying the signature.
	Header string
	// Algorithm (hmac): sha256 (default), sha1 or sha512.
	Algorithm string
	// Encoding (hmac): hex (default; either case) or base64 (standard
	// alphabet, padded or not).
	Encoding string
	// Prefix (hmac), e.g. "sha256=", must start the header's value and is
	// not part of the signature.
	Prefix string
	// IDHeader (hmac, optional) carries the sender's delivery id.
	IDHeader string
	// Tolerance (stripe, slack, standard_webhooks) is how far the signed
	// timestamp may be from now, in either direction; zero means
	// DefaultTolerance.
	Tolerance time.Duration
}

// Result is what a verified request carries.
type Result struct {
	// DeliveryID is the sender's id of this delivery, stable across its
	// retries, for de-duplication; nil when the scheme or the request has
	// none. github: X-GitHub-Delivery; standard_webhooks: webhook-id;
	// shopify: X-Shopify-Webhook-Id, else X-Shopify-Event-Id; stripe: the
	// event's top-level "id" in the JSON body; slack: the top-level
	// "event_id" of a JSON body (slash commands and interactivity payloads
	// have none); hmac: the IDHeader header, if configured; api_key: none.
	//
	// It is borrowed from the Header or the body given to Verify (except
	// for a JSON string with escapes, which is decoded into a new slice):
	// valid as long as they are, so copy it to keep it.
	DeliveryID []byte
	// Key is the index in Config.Secrets of the secret or API key that
	// matched, so callers can tell a rotation's old secret from the new one
	// and scope what an API key may read; -1 on error.
	Key int
}

type scheme uint8

const (
	github scheme = iota
	stripe
	shopify
	slack
	standardWebhooks
	generic
	apiKey
)

var schemeNames = [...]string{
	github:           SchemeGitHub,
	stripe:           SchemeStripe,
	shopify:          SchemeShopify,
	slack:            SchemeSlack,
	standardWebhooks: SchemeStandardWebhooks,
	generic:          SchemeHMAC,
	apiKey:           SchemeAPIKey,
}

// Schemes returns the scheme names New accepts.
func Schemes() []string { return append([]string(nil), schemeNames[:]...) }

type encoding uint8

const (
	encHex encoding = iota
	encBase64
)

// Verifier verifies the requests of one route. It is immutable after New
// and safe for concurrent use.
type Verifier struct {
	scheme    scheme
	size      int      // MAC size in bytes
	enc       encoding // of the received signature
	tolerance time.Duration
	// secrets holds, per signing secret, a pool of *macState keyed with it.
	secrets []sync.Pool
	// keys holds the SHA-256 digests of the API keys (api_key).
	keys [][sha256.Size]byte

	// hmac only: the configured headers and prefix, and the errors that
	// name them, built once.
	header, idHeader                              string
	prefix                                        []byte
	errMissing, errPrefix, errDecode, errMismatch *Error
}

// macState is one keyed HMAC and the buffer its sums go to (a buffer on
// the caller's stack would escape through the hash.Hash interface).
type macState struct {
	h   hash.Hash
	sum [sha512.Size]byte
}

// New checks c and builds its Verifier. Its errors wrap ErrConfig and name
// the offending field; they never contain a secret.
func New(c Config) (*Verifier, error) {
	s := scheme(len(schemeNames))
	for i, n := range schemeNames {
		if c.Scheme == n {
			s = scheme(i)
		}
	}
	if s == scheme(len(schemeNames)) {
		if c.Scheme == "" {
			return nil, configErr("verify is required: one of %s", strings.Join(schemeNames[:], ", "))
		}
		return nil, configErr("verify %q is not one of %s", c.Scheme, strings.Join(schemeNames[:], ", "))
	}
	v := &Verifier{scheme: s, size: sha256.Size, enc: encHex}

	if s != generic {
		for _, f := range [...]struct{ name, val string }{
			{"header", c.Header}, {"algorithm", c.Algorithm}, {"encoding", c.Encoding},
			{"prefix", c.Prefix}, {"id_header", c.IDHeader},
		} {
			if f.val != "" {
				return nil, configErr("%s only applies to verify: hmac, not %s", f.name, c.Scheme)
			}
		}
	}
	switch s {
	case stripe, slack, standardWebhooks:
		switch {
		case c.Tolerance < 0:
			return nil, configErr("tolerance %s is negative", c.Tolerance)
		case c.Tolerance == 0:
			v.tolerance = DefaultTolerance
		default:
			v.tolerance = c.Tolerance
		}
	default:
		if c.Tolerance != 0 {
			return nil, configErr("tolerance only applies to stripe, slack and standard_webhooks, not %s", c.Scheme)
		}
	}

	what := "secret"
	if s == apiKey {
		what = "key"
	}
	if len(c.Secrets) == 0 {
		return nil, configErr("verify: %s needs at least one %s", c.Scheme, what)
	}
	for i, sec := range c.Secrets {
		if len(sec) == 0 {
			return nil, configErr("%s %d of %d is empty", what, i+1, len(c.Secrets))
		}
	}

	newHash := sha256.New
	switch s {
	case shopify, standardWebhooks:
		v.enc = encBase64
	case generic:
		var err error
		if newHash, err = v.configureHMAC(c); err != nil {
			return nil, err
		}
	case apiKey:
		v.keys = make([][sha256.Size]byte, len(c.Secrets))
		for i, k := range c.Secrets {
			if len(bytes.TrimSpace(k)) != len(k) {
				return nil, configErr("key %d of %d has leading or trailing white space, which no request can send", i+1, len(c.Secrets))
			}
			v.keys[i] = sha256.Sum256(k)
			for j := range i {
				if v.keys[i] == v.keys[j] {
					return nil, configErr("key %d of %d repeats key %d", i+1, len(c.Secrets), j+1)
				}
			}
		}
		return v, nil
	}

	v.secrets = make([]sync.Pool, len(c.Secrets))
	for i, sec := range c.Secrets {
		key := bytes.Clone(sec)
		if s == standardWebhooks {
			if b64, ok := bytes.CutPrefix(sec, []byte("whsec_")); ok {
				var err error
				if key, err = base64.StdEncoding.DecodeString(string(b64)); err != nil || len(key) == 0 {
					return nil, configErr("secret %d of %d: the part after whsec_ is not base64", i+1, len(c.Secrets))
				}
			}
		}
		v.secrets[i].New = func() any { return &macState{h: hmac.New(newHash, key)} }
	}
	return v, nil
}

// configureHMAC checks the generic scheme's fields and builds its errors.
func (v *Verifier) configureHMAC(c Config) (func() hash.Hash, error) {
	if c.Header == "" {
		return nil, configErr("header is required for verify: hmac")
	}
	if !validHeaderName(c.Header) {
		return nil, configErr("header %q is not a valid header name", c.Header)
	}
	if c.IDHeader != "" && !validHeaderName(c.IDHeader) {
		return nil, configErr("id_header %q is not a valid header name", c.IDHeader)
	}
	var (
		newHash                 func() hash.Hash
		algorithm, encodingName string
	)
	switch c.Algorithm {
	case "", "sha256":
		newHash, v.size, algorithm = sha256.New, sha256.Size, "sha256"
	case "sha1":
		newHash, v.size, algorithm = sha1.New, sha1.Size, "sha1"
	case "sha512":
		newHash, v.size, algorithm = sha512.New, sha512.Size, "sha512"
	default:
		return nil, configErr("algorithm %q is not one of sha256, sha1, sha512", c.Algorithm)
	}
	switch c.Encoding {
	case "", "hex":
		v.enc, encodingName = encHex, "hex"
	case "base64":
		v.enc, encodingName = encBase64, "base64"
	default:
		return nil, configErr("encoding %q is not one of hex, base64", c.Encoding)
	}
	v.header, v.idHeader, v.prefix = c.Header, c.IDHeader, []byte(c.Prefix)
	v.errMissing = invalid(c.Header + " is missing")
	v.errPrefix = invalid(fmt.Sprintf("%s does not start with %q", c.Header, c.Prefix))
	v.errDecode = invalid(fmt.Sprintf("%s is not a %s encoded HMAC-%s", c.Header, encodingName, strings.ToUpper(algorithm)))
	v.errMismatch = invalid(c.Header + " does not match the body with any secret")
	return newHash, nil
}

// validHeaderName reports whether s is an RFC 9110 field name (a token).
func validHeaderName(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

func invalid(msg string) *Error { return &Error{Code: CodeSignatureInvalid, Message: msg} }

func unauthorized(msg string) *Error { return &Error{Code: CodeUnauthorized, Message: msg} }

// Verify checks the request whose headers are h and raw body is body,
// received at now (which only the timestamped schemes read). On success
// the error is nil; otherwise it is an *Error and the Result's Key is -1.
// Verify reads h and body and keeps no reference to them, but the Result's
// DeliveryID may point into them.
func (v *Verifier) Verify(h Header, body []byte, now time.Time) (Result, error) {
	var (
		r   Result
		err *Error
	)
	switch v.scheme {
	case github:
		r, err = v.verifyGitHub(h, body)
	case stripe:
		r, err = v.verifyStripe(h, body, now)
	case shopify:
		r, err = v.verifyShopify(h, body)
	case slack:
		r, err = v.verifySlack(h, body, now)
	case standardWebhooks:
		r, err = v.verifyStandardWebhooks(h, body, now)
	case generic:
		r, err = v.verifyHMAC(h, body)
	case apiKey:
		r, err = v.verifyAPIKey(h)
	}
	if err != nil {
		return Result{Key: -1}, err
	}
	return r, nil
}
