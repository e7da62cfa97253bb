package config

import (
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Secret is a string that never shows itself: printing, logging or encoding
// it to JSON or YAML gives "[redacted]" (or "" when empty), so a config that
// is logged or shown never leaks a secret. Reveal returns the value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// MarshalText redacts the secret in JSON and text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalYAML redacts the secret.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// SecretList is one secret or a list of them (for rotation).
type SecretList []Secret

func (l *SecretList) UnmarshalYAML(n *yaml.Node) error {
	var ss StringList
	if err := ss.UnmarshalYAML(n); err != nil {
		return err
	}
	*l = make(SecretList, len(ss))
	for i, s := range ss {
		(*l)[i] = Secret(s)
	}
	return nil
}

// StringList is one string or a list of them.
type StringList []string

func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		var ss []string
		if err := n.Decode(&ss); err != nil {
			return fmt.Errorf("line %d: %v", n.Line, err)
		}
		*l = ss
		return nil
	}
	return fmt.Errorf("line %d: must be a string or a list of strings", n.Line)
}

// Secrets resolves the signing secrets of a signature scheme, or the keys
// of api_key, from every source the auth block names. Each error names its
// key; no error shows a secret's value.
func (a *Auth) Secrets() ([][]byte, error) {
	var out [][]byte
	add := func(s string) {
		if s != "" {
			out = append(out, []byte(s))
		}
	}
	if a.Verify == AuthAPIKey {
		for _, k := range a.Keys {
			add(k.Reveal())
		}
		for _, name := range a.KeysEnv {
			v, ok := os.LookupEnv(name)
			if !ok {
				return nil, fmt.Errorf("keys_env: environment variable %s is not set", name)
			}
			for _, k := range splitKeys(v) {
				add(k)
			}
		}
		for _, path := range a.KeysFile {
			b, err := os.ReadFile(path) // #nosec G304 -- keys_file, from the operator's config
			if err != nil {
				return nil, fmt.Errorf("keys_file: %v", err)
			}
			for _, k := range splitKeys(string(b)) {
				add(k)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("api_key needs at least one key (keys, keys_env or keys_file)")
		}
		return out, nil
	}
	for _, s := range a.Secret {
		add(s.Reveal())
	}
	for _, name := range a.SecretEnv {
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return nil, fmt.Errorf("secret_env: environment variable %s is not set", name)
		}
		add(v)
	}
	for _, path := range a.SecretFile {
		b, err := os.ReadFile(path) // #nosec G304 -- secret_file, from the operator's config
		if err != nil {
			return nil, fmt.Errorf("secret_file: %v", err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return nil, fmt.Errorf("secret_file: %s is empty", path)
		}
		add(s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s needs a secret (secret, secret_env or secret_file)", a.Verify)
	}
	return out, nil
}

// splitKeys splits API keys separated by commas, spaces or newlines.
func splitKeys(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// Token resolves the admin token: admin_token, else admin_token_env's
// variable; "" when neither is set.
func (c *Config) Token() (string, error) {
	if c.AdminToken != "" {
		return c.AdminToken.Reveal(), nil
	}
	if c.AdminTokenEnv == "" {
		return "", nil
	}
	v, ok := os.LookupEnv(c.AdminTokenEnv)
	if !ok || v == "" {
		return "", fmt.Errorf("admin_token_env: environment variable %s is not set", c.AdminTokenEnv)
	}
	return v, nil
}
