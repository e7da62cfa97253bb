package config

import (
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/runtime/verify"
)

// Auth schemes (Auth.Verify).
const (
	AuthGitHub           = "github"
	AuthStripe           = "stripe"
	AuthShopify          = "shopify"
	AuthSlack            = "slack"
	AuthStandardWebhooks = "standard_webhooks"
	AuthHMAC             = "hmac"
	AuthAPIKey           = "api_key"
)

// AuthSchemes lists every Auth.Verify value.
var AuthSchemes = []string{AuthGitHub, AuthStripe, AuthShopify, AuthSlack, AuthStandardWebhooks, AuthHMAC, AuthAPIKey}

var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// validateSecurity checks the top-level keys that decide who may reach what.
func (c *Config) validateSecurity(bad func(key, format string, args ...any)) {
	if c.AdminToken != "" && c.AdminTokenEnv != "" {
		bad("admin_token", "set admin_token or admin_token_env, not both")
	}
	token, err := c.Token()
	if err != nil {
		bad("admin_token_env", "%v", strings.TrimPrefix(err.Error(), "admin_token_env: "))
	} else if token != "" && len(token) < MinAdminTokenLength {
		bad("admin_token", "is too short: use at least 16 characters (e.g. openssl rand -hex 32)")
	}
	if c.AdminListen != "" && c.AdminListen != AdminListenOff {
		if _, port, ok := strings.Cut(c.AdminListen, ":"); !ok || port == "" {
			bad("admin_listen", "%q is not host:port", c.AdminListen)
		} else if token == "" && err == nil && !loopbackAddr(c.AdminListen) {
			bad("admin_listen", "%s is not a loopback address and no admin_token is set: anyone who reaches it could "+
				"replace plugins and read every result; set admin_token (or admin_token_env) or listen on 127.0.0.1", c.AdminListen)
		}
	}
	for _, t := range []struct {
		key string
		tls *TLS
	}{{"tls", c.TLS}, {"admin_tls", c.AdminTLS}} {
		if t.tls != nil && (t.tls.CertFile == "" || t.tls.KeyFile == "") {
			bad(t.key, "needs both cert_file and key_file")
		}
	}
	h := c.HTTP
	for _, d := range []struct {
		key string
		v   Duration
	}{{"read_header_timeout", h.ReadHeaderTimeout}, {"write_timeout", h.WriteTimeout},
		{"idle_timeout", h.IdleTimeout}, {"shutdown_timeout", h.ShutdownTimeout}} {
		if d.v <= 0 {
			bad("http."+d.key, "must be positive")
		}
	}
	if h.MinBodyRate <= 0 {
		bad("http.min_body_rate", "must be positive (bytes a second, e.g. 64KiB)")
	}
	if h.MaxHeaderSize < MinHeaderSizeLimit || h.MaxHeaderSize > MaxHeaderSizeLimit {
		bad("http.max_header_size", "must be between 1KiB and 1MiB")
	}
	if h.MaxHeaders < 1 {
		bad("http.max_headers", "must be at least 1")
	}
	if h.MaxConnections < 1 {
		bad("http.max_connections", "must be at least 1")
	}
	if h.MaxConnectionsPerIP < 0 {
		bad("http.max_connections_per_ip", "must be >= 0 (0: no per-address cap)")
	}
	if h.MaxInflightBytes < c.MaxBodySize {
		bad("http.max_inflight_bytes", "must be at least max_body_size (%d bytes), or no body that size could ever be received", c.MaxBodySize)
	}
	if h.MaxHops < 1 {
		bad("http.max_hops", "must be at least 1")
	}
}

// validateRouteSecurity checks a route's auth and rate limit.
func (c *Config) validateRouteSecurity(key string, r *Route, bad func(key, format string, args ...any)) {
	if rl := r.RateLimit; rl != nil {
		if rl.RPS <= 0 {
			bad(key+".rate_limit.rps", "must be positive")
		}
		if rl.Burst < 0 {
			bad(key+".rate_limit.burst", "must not be negative (0 or unset: rps rounded up)")
		}
	}
	a := r.Auth
	if a == nil {
		if c.RequireAuth {
			bad(key+".auth", "is required (require_auth: true): say how the sender is verified, e.g. auth: {verify: github, secret_env: GITHUB_SECRET}")
		}
		return
	}
	key += ".auth"
	if !slices.Contains(AuthSchemes, a.Verify) {
		bad(key+".verify", "must be one of %s, got %q", strings.Join(AuthSchemes, ", "), a.Verify)
		return
	}
	apiKey := a.Verify == AuthAPIKey
	if apiKey && (len(a.Secret) > 0 || len(a.SecretEnv) > 0 || len(a.SecretFile) > 0) {
		bad(key, "api_key takes keys, keys_env or keys_file, not secret")
	}
	if !apiKey && (len(a.Keys) > 0 || len(a.KeysEnv) > 0 || len(a.KeysFile) > 0) {
		bad(key, "%s takes secret, secret_env or secret_file, not keys", a.Verify)
	}
	if _, err := a.Secrets(); err != nil {
		bad(key, "%v", err)
	}
	if a.Verify == AuthHMAC {
		if a.Header == "" {
			bad(key+".header", "hmac needs the header that carries the signature, e.g. X-Signature")
		}
	} else if a.Header != "" || a.Algorithm != "" || a.Encoding != "" || a.Prefix != "" || a.IDHeader != "" {
		bad(key, "header, algorithm, encoding, prefix and id_header apply to verify: hmac only")
	}
	for _, h := range []struct{ k, v string }{{"header", a.Header}, {"id_header", a.IDHeader}} {
		if h.v != "" && !headerName.MatchString(h.v) {
			bad(key+"."+h.k, "%q is not a header name", h.v)
		}
	}
	if a.Tolerance < 0 {
		bad(key+".tolerance", "must not be negative (0 or unset: the default, %s)", verify.DefaultTolerance)
	}
}

// checkURL requires an http(s) URL with a host that is not one of Sluice's
// own listeners (a route that delivers to itself loops forever).
func (c *Config) checkURL(key, raw string, bad func(key, format string, args ...any)) {
	if strings.IndexFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		bad(key, "contains a control character")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		bad(key, "must be an http:// or https:// URL, got %q", raw)
		return
	}
	if u.Hostname() == "" {
		bad(key, "needs a host, got %q", raw)
		return
	}
	if u.User != nil {
		bad(key, "must not carry credentials (user:password@): use destination.headers")
		return
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, l := range []struct{ name, addr string }{{"listen", c.Listen}, {"admin_listen", c.AdminListen}} {
		if l.addr == "" || l.addr == "off" {
			continue
		}
		lhost, lport, err := net.SplitHostPort(l.addr)
		if err != nil || lport != port || lport == "0" {
			continue
		}
		if sameHost(lhost, u.Hostname()) {
			bad(key, "%s is Sluice's own %s (%s): a message delivered there comes back as a new message, forever", raw, l.name, l.addr)
		}
	}
}

// sameHost reports whether a URL host may reach a listener bound to lhost:
// the same name or address, or either side loopback or unspecified.
func sameHost(lhost, host string) bool {
	if strings.EqualFold(lhost, host) {
		return true
	}
	local := func(h string) bool {
		if h == "" || strings.EqualFold(h, "localhost") {
			return true
		}
		a, err := netip.ParseAddr(h)
		return err == nil && (a.IsLoopback() || a.IsUnspecified())
	}
	if lh, err := netip.ParseAddr(lhost); err == nil && lh.IsUnspecified() || lhost == "" {
		// Bound to every address: any local address reaches it.
		if local(host) {
			return true
		}
		if a, err := netip.ParseAddr(host); err == nil {
			return localAddr(a)
		}
		return false
	}
	return local(lhost) && local(host)
}

// localAddr reports whether a is an address of this machine.
func localAddr(a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == a.Unmap() {
				return true
			}
		}
	}
	return false
}

// loopbackAddr reports whether a listen address (host:port) binds loopback
// only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
