package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The seed corpus is in code and in the repository's own configs (the
// README's examples, the embedded demo), so plain `go test` runs the target
// on them as a unit test.

var (
	// parseErr: every YAML syntax error says where: a line, or the
	// anchor, alias, merge or !!binary value it is about.
	parseErr = regexp.MustCompile(`^parsing YAML: .*(\bline \d+|anchor|alias|merge|!!binary)`)
	// keyPath: the key a Problem is about.
	keyPath = regexp.MustCompile(`^[a-z_]+(\[\d+\])?(\.[a-z_0-9]+(\[\d+\])?)*$`)
)

const fuzzFileSecret = "file-secret-0123456789abcdef"

// fuzzConfigSeeds are the repository's configs and YAML that is odd in
// every way the decoder allows.
func fuzzConfigSeeds(tb testing.TB) []string {
	seeds := []string{
		"", "{}", "[]", "null", "~", "---\n...\n", "listen: :1\n---\nlisten: :2\n",
		"listen: 127.0.0.1:8080\nlisten: 127.0.0.1:8081\n",
		"routes: [{name: a, mode: sync, colour: red}]",
		"routes: [{name: a, mode: async, orderBy: route, destinaton: {url: 'http://x'}, retry: {max_atempts: 2}}]\nmax_body_size: lots\nworkers: [1]\nhttp: {Max-Hops: 2}",
		"routes: [{<<: [{name: a, mode: sync}, {name: b, colour: red}], name: c}]",
		"a: &a {<<: *a}\nroutes: [{<<: *a}]",
		"routes:\n  - name: a\n    mode: async\n    order_by: 'json:/customer/id'\n    retry: {max_attempts: 3, on: [5xx, timeout, '429']}\n    destination: {url: 'http://127.0.0.1:8080/in/a'}\n",
		"base: &b {name: a, mode: sync}\nroutes: [*b, *b]",
		"routes: [{<<: {name: a}, mode: sync}]",
		"a: &a [*a]",
		"max_body_size: !!binary aGVsbG8=",
		"max_body_size: 99999999999999999999GiB", "max_body_size: -1", "max_body_size: 1e3", "max_body_size: 0x10",
		"sync_timeout: 9999999999h", "sync_timeout: -5s", "sync_timeout: [1s]", "sync_timeout: {a: b}",
		"workers: 1.5", "workers: 99999999999999999999", "require_auth: maybe",
		"admin_token: short\nadmin_listen: 0.0.0.0:9\n", "admin_token: [a, b]", "admin_token_env: NOT_SET_ANYWHERE_0123",
		"http: {max_header_size: 0, max_inflight_bytes: 1KiB, min_body_rate: 0B}",
		"routes: [{name: a, mode: async, auth: {verify: api_key, keys: [k-0123456789abcdef, k2-0123456789abcdef]}}]",
		"routes: [{name: a, mode: async, auth: {verify: hmac, header: 'X Sig', secret: s-0123456789abcdef, algorithm: md5}}]",
		"routes: [{name: a, mode: async, auth: {verify: github, keys_file: [secret.txt], secret_env: FUZZ_CONFIG_SECRET}}]",
		"routes: [{name: a, mode: async, auth: {verify: stripe, secret_file: [secret.txt, missing.txt]}}]",
		"routes: [{name: a, mode: async, auth: {verify: api_key, keys_env: FUZZ_CONFIG_SECRET}, rate_limit: {rps: -1, burst: -2}}]",
		"routes: [{name: a, mode: sync, callback: {url: 'http://[::1]:8080/x', secret: whsec_!!!}}]",
		"routes: [{name: a, mode: sync, destination: {url: \"http://a\\x00b/\", forward_headers: ['X-Ok', 'bad header']}}]",
		"routes: [{name: a, mode: sync, destination: {url: 'https://user:pw@host/'}, accept: ['application/json', ';;', 'text']}]",
		"plugins: [{name: p, path: p.wasm, sha256: XYZ, abi: wasm, memory_limit: 5GiB, max_depth: -1}]",
		"\ufefflisten: :1", "listen: \"\\u0000\"", "\tlisten: :1", "listen: :1\x00", "key: |\n  a\n b\n",
		"routes: " + strings.Repeat("[", 200) + strings.Repeat("]", 200),
	}
	// The README's YAML examples and the embedded demo's config.
	if b, err := os.ReadFile(filepath.Join("..", "..", "README.md")); err == nil {
		for _, block := range strings.Split(string(b), "```yaml\n")[1:] {
			if yaml, _, ok := strings.Cut(block, "```"); ok {
				seeds = append(seeds, yaml)
			}
		}
	} else {
		tb.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join("..", "..", "plugins", "demo", "demo.yaml")); err == nil {
		seeds = append(seeds, string(b))
	} else {
		tb.Fatal(err)
	}
	return seeds
}

// FuzzConfig: Parse and then Validate never panic, on any bytes; a YAML
// syntax error names its line, every decoding problem has a line, Validate
// reports them again with its own, each naming its key, in line order; and
// no error, nor the config printed or encoded as JSON, shows a secret
// (admin_token, auth secrets and keys, from the file, the environment or a
// file).
//
// Secret files named in the YAML are looked up in a temporary directory
// (secret.txt exists there), never at the fuzzed path: Validate reads them,
// and a fuzzer must not read /dev/zero.
func FuzzConfig(f *testing.F) {
	for _, s := range fuzzConfigSeeds(f) {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte(fuzzFileSecret+"\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	const envSecret = "env-secret-0123456789abcdef"
	f.Setenv("FUZZ_CONFIG_SECRET", envSecret)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		var decodeProblems Problems
		if err != nil && !errors.As(err, &decodeProblems) {
			if !parseErr.MatchString(err.Error()) {
				t.Fatalf("Parse error names no line: %q\ninput %q", err, b)
			}
			return
		}
		for _, p := range decodeProblems {
			if p.Line < 1 {
				t.Fatalf("Parse problem without a line: %q\ninput %q", p, b)
			}
		}
		secrets := []string{envSecret, fuzzFileSecret, c.AdminToken.Reveal()}
		for i := range c.Routes {
			a := c.Routes[i].Auth
			if a == nil {
				continue
			}
			for _, s := range append(append(SecretList(nil), a.Secret...), a.Keys...) {
				secrets = append(secrets, s.Reveal())
			}
			for _, l := range []StringList{a.SecretFile, a.KeysFile} {
				for j, p := range l {
					l[j] = filepath.Join(dir, filepath.Base(filepath.Clean("/"+p)))
				}
			}
		}
		err = c.Validate()
		var problems Problems
		if err != nil && !errors.As(err, &problems) {
			t.Fatalf("Validate error is not Problems: %q\ninput %q", err, b)
		}
		// Validate reports the decoding problems again, every problem
		// names a key or a line (a key unless it is a decoding problem),
		// and they come in line order, those without a line last.
		if len(problems) < len(decodeProblems) {
			t.Fatalf("Validate reports %d problems, decoding alone had %d\ninput %q", len(problems), len(decodeProblems), b)
		}
		for i, p := range problems {
			if p.Key != "" && !keyPath.MatchString(p.Key) || p.Key == "" && !slices.Contains(decodeProblems, p) {
				t.Fatalf("problem does not name its key: %q\ninput %q", p, b)
			}
			if i > 0 && (p.Line != 0 && p.Line < problems[i-1].Line || p.Line != 0 && problems[i-1].Line == 0) {
				t.Fatalf("problems out of line order: %q after %q\ninput %q", p, problems[i-1], b)
			}
		}
		shown := []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)}
		if err != nil {
			shown = append(shown, err.Error())
		}
		if j, err := json.Marshal(c); err == nil {
			shown = append(shown, string(j))
		} else {
			t.Fatalf("encoding the config as JSON: %v", err)
		}
		for _, s := range secrets {
			// A short secret, or one the YAML also spells elsewhere, may
			// show up for another reason.
			if len(s) < 12 || strings.Count(string(b), s) > 1 {
				continue
			}
			for _, out := range shown {
				if strings.Contains(out, s) {
					t.Fatalf("secret %q shown:\n%s\ninput %q", s, out, b)
				}
			}
		}
	})
}

// TestParseErrorLines: the YAML decoder gives no line for an error on the
// first line, nor for a byte it cannot read; Parse adds it (FuzzConfig
// found both).
func TestParseErrorLines(t *testing.T) {
	for in, want := range map[string]string{
		"\tlisten: :1":                 "line 1: found character that cannot start any token",
		"listen: :1\x00":               "line 1: control characters are not allowed",
		"listen: :1\nworkers: 2\x01\n": "line 2: control characters are not allowed",
		"listen: :1\n\n\xff":           "line 3: invalid leading UTF-8 octet",
		"x: *nope":                     "unknown anchor 'nope' referenced",
	} {
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %q", in, err, want)
		}
	}
}

// TestFuzzConfigSeedsValid: the repository's own configs are valid, so the
// seeds reach Validate's deep checks rather than stopping at Parse.
func TestFuzzConfigSeedsValid(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "plugins", "demo", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(b)
	if err == nil {
		c.DataDir = "./data"
		err = c.Validate()
	}
	if err != nil {
		t.Fatalf("demo.yaml: %v", err)
	}
}
