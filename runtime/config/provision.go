package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/sluicehq/sluice/runtime/dispatch"
	"github.com/sluicehq/sluice/runtime/validate"
	"github.com/sluicehq/sluice/runtime/verify"
)

// Provisioned is a valid config made ready to serve: everything that reads
// the environment or files, or compiles, done once (compiling plugins aside:
// that needs the WASM host). `sluice serve` and `sluice config check` both
// call Provision, so that check refuses exactly the configs serve would
// refuse at start, with the same messages.
type Provisioned struct {
	// Config is the config provisioned (valid).
	Config *Config
	// Token is the admin token ("": none).
	Token string
	// DenyNetworks are dispatch.deny_networks' address ranges.
	DenyNetworks []netip.Prefix
	// Routes are the config's routes, in its order.
	Routes []ProvisionedRoute
}

// ProvisionedRoute is one route with what it needs at run time.
type ProvisionedRoute struct {
	*Route
	OrderMode, OrderArg string           // ParseOrderBy's (route for a sync route)
	Schema              *validate.Schema // validate.schema compiled; nil: none
	Verifier            *verify.Verifier // auth; nil: anyone may post
	CallbackSecret      []byte           // the callback's signing key; nil: unsigned
}

// Provision validates c (Validate) and then prepares it (Provisioned). Its
// error, like Validate's, is Problems: every problem, each with its key and,
// for a config from a file, its line.
func (c *Config) Provision() (*Provisioned, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var probs Problems
	bad := func(key, format string, a ...any) {
		probs = append(probs, &Problem{Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	p := &Provisioned{Config: c, Routes: make([]ProvisionedRoute, len(c.Routes))}
	var err error
	if p.Token, err = c.Token(); err != nil {
		bad("admin_token_env", "%v", strings.TrimPrefix(err.Error(), "admin_token_env: "))
	}
	if p.DenyNetworks, err = dispatch.ParseNetworks(c.Dispatch.DenyNetworks); err != nil {
		var ne *dispatch.NetworkError
		if errors.As(err, &ne) {
			bad(fmt.Sprintf("dispatch.deny_networks[%d]", ne.Index), "%v", err)
		} else {
			bad("dispatch.deny_networks", "%v", err)
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		key := fmt.Sprintf("routes[%d]", i)
		pr := &p.Routes[i]
		pr.Route = r
		pr.OrderMode, pr.OrderArg = OrderRoute, ""
		if r.Mode == ModeAsync {
			pr.OrderMode, pr.OrderArg, _ = ParseOrderBy(r.OrderBy) // Validate checked it
		}
		if v := r.Validate; v != nil && v.Schema != "" {
			if pr.Schema, err = validate.Compile(v.Schema); err != nil {
				bad(key+".validate.schema", "%v", err)
			}
		}
		if a := r.Auth; a != nil {
			if pr.Verifier, err = a.verifier(); err != nil {
				bad(key+".auth", "%v", err)
			}
		}
		if cb := r.Callback; cb != nil && cb.Secret != "" {
			if pr.CallbackSecret, err = cb.SigningKey(); err != nil {
				bad(key+".callback.secret", "%v", err)
			}
		}
	}
	if err := c.src.report(probs); err != nil {
		return nil, err
	}
	return p, nil
}

// verifier builds the route's sender verification from its secrets.
func (a *Auth) verifier() (*verify.Verifier, error) {
	secrets, err := a.Secrets()
	if err != nil {
		return nil, err
	}
	return verify.New(verify.Config{Scheme: a.Verify, Secrets: secrets, Header: a.Header, Algorithm: a.Algorithm,
		Encoding: a.Encoding, Prefix: a.Prefix, IDHeader: a.IDHeader, Tolerance: a.Tolerance.D()})
}

// SigningKey is the callback's secret as the key that signs it, as Standard
// Webhooks reads one: "whsec_" and base64, or any other string used as is.
func (cb *Callback) SigningKey() ([]byte, error) {
	s := cb.Secret.Reveal()
	if rest, ok := strings.CutPrefix(s, "whsec_"); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, errors.New("whsec_ must be followed by base64")
		}
		return b, nil
	}
	return []byte(s), nil
}
