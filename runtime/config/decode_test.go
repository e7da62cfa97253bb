package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestUnknownKeySuggestions: an unknown key is reported with its line and
// the closest key of the same block, in every block, whatever its case and
// separators; nothing is suggested when nothing is close.
func TestUnknownKeySuggestions(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"top level", "listen: :1\nlog-level: debug\n", "line 2: unknown key log-level (did you mean log_level?)"},
		{"top level abbreviated", "max_body: 1MiB\n", "line 1: unknown key max_body (did you mean max_body_size?)"},
		{"top level typo", "data_dri: /tmp\n", "line 1: unknown key data_dri (did you mean data_dir?)"},
		{"route", "routes:\n  - name: a\n    orderby: route\n", "line 3: routes[0]: unknown key orderby (did you mean order_by?)"},
		{"route camel", "routes: [{name: a, orderBy: route}]", "line 1: routes[0]: unknown key orderBy (did you mean order_by?)"},
		{"route pascal", "routes: [{name: a, OrderBy: route}]", "line 1: routes[0]: unknown key OrderBy (did you mean order_by?)"},
		{"route dashes", "routes: [{name: a, order-by: route}]", "line 1: routes[0]: unknown key order-by (did you mean order_by?)"},
		{"route upper", "routes: [{name: a, ORDER_BY: route}]", "line 1: routes[0]: unknown key ORDER_BY (did you mean order_by?)"},
		{"route swap", "routes: [{name: a, mdoe: sync}]", "line 1: routes[0]: unknown key mdoe (did you mean mode?)"},
		{"second route", "routes:\n  - {name: a}\n  - name: b\n    tranforms: []\n", "line 4: routes[1]: unknown key tranforms (did you mean transforms?)"},
		{"destination", "routes:\n- name: a\n  destination:\n    url: http://x\n    timout: 1s\n", "line 5: routes[0].destination: unknown key timout (did you mean timeout?)"},
		{"destination forward", "routes: [{name: a, destination: {forwardHeaders: [X-A]}}]", "routes[0].destination: unknown key forwardHeaders (did you mean forward_headers?)"},
		{"auth", "routes: [{name: a, auth: {verify: github, secretEnv: S}}]", "routes[0].auth: unknown key secretEnv (did you mean secret_env?)"},
		{"auth typo", "routes: [{name: a, auth: {verfy: github}}]", "routes[0].auth: unknown key verfy (did you mean verify?)"},
		{"rate_limit", "routes: [{name: a, rate_limit: {rps: 1, brust: 2}}]", "routes[0].rate_limit: unknown key brust (did you mean burst?)"},
		{"retry", "routes: [{name: a, retry: {max_atempts: 2}}]", "routes[0].retry: unknown key max_atempts (did you mean max_attempts?)"},
		{"retry on_dead", "routes: [{name: a, retry: {OnDead: park}}]", "routes[0].retry: unknown key OnDead (did you mean on_dead?)"},
		{"route backlog", "routes: [{name: a, backlog: {max_msgs: 2}}]", "routes[0].backlog: unknown key max_msgs (did you mean max_messages?)"},
		{"callback", "routes: [{name: a, callback: {ulr: http://x}}]", "routes[0].callback: unknown key ulr (did you mean url?)"},
		{"validate", "routes: [{name: a, validate: {schmea: s.json}}]", "routes[0].validate: unknown key schmea (did you mean schema?)"},
		{"plugin", "plugins: [{name: p, pth: p.wasm}]", "plugins[0]: unknown key pth (did you mean path?)"},
		{"plugin inline limit", "plugins:\n  - name: p\n    path: p.wasm\n    memoryLimit: 8MiB\n", "line 4: plugins[0]: unknown key memoryLimit (did you mean memory_limit?)"},
		{"plugin_defaults", "plugin_defaults: {max-output: 1MiB}", "plugin_defaults: unknown key max-output (did you mean max_output?)"},
		{"dispatch", "dispatch: {deny_network: [private]}", "dispatch: unknown key deny_network (did you mean deny_networks?)"},
		{"dispatch abbreviated", "dispatch: {max_conns: 8}", "dispatch: unknown key max_conns (did you mean max_conns_per_host?)"},
		{"http", "http:\n  readHeaderTimeout: 5s\n", "line 2: http: unknown key readHeaderTimeout (did you mean read_header_timeout?)"},
		{"tls", "tls: {cert: a.pem, key_file: b.pem}", "tls: unknown key cert (did you mean cert_file?)"},
		{"admin_tls", "admin_tls: {cert_file: a.pem, keyfile: b.pem}", "admin_tls: unknown key keyfile (did you mean key_file?)"},
		{"backlog", "backlog: {maxbytes: 1GiB}", "backlog: unknown key maxbytes (did you mean max_bytes?)"},
		{"key of an inner block", "routes: [{name: a, url: 'http://x'}]", "routes[0]: unknown key url (url goes under destination:)"},
		{"no suggestion", "routes: [{name: a, colour: red}]", "line 1: routes[0]: unknown key colour"},
		{"no suggestion top", "frobnicate: true", "line 1: unknown key frobnicate"},
		{"no suggestion short", "routes: [{name: a, xy: 1}]", "routes[0]: unknown key xy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse(%q) = %v, want Problems", tc.yaml, err)
			}
			if len(ps) != 1 {
				t.Fatalf("%d problems, want 1:\n%v", len(ps), ps)
			}
			got := ps[0].Error()
			if strings.HasPrefix(tc.want, "line ") && got != tc.want || !strings.HasSuffix(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if strings.Contains(tc.name, "no suggestion") && strings.Contains(got, "(") {
				t.Errorf("suggests something for an unrelated key: %q", got)
			}
		})
	}
}

// TestEveryKeyIsSuggested: for every key of every block the file may
// hold, found from the structs' yaml tags, the key written in upper case
// is reported as unknown with that key suggested, at that key's path; so a
// new field is covered without a list to keep.
func TestEveryKeyIsSuggested(t *testing.T) {
	count := 0
	var walk func(t reflect.Type, path string, wrap func(string) string)
	walk = func(typ reflect.Type, path string, wrap func(string) string) {
		for _, f := range fieldsOf(typ) {
			yaml := wrap(strings.ToUpper(f.name) + ": x")
			_, err := Parse([]byte(yaml))
			var ps Problems
			want := fmt.Sprintf("unknown key %s (did you mean %s?)", strings.ToUpper(f.name), f.name)
			if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Key != path || ps[0].Msg != want || ps[0].Line != 1 {
				t.Errorf("%s: Parse(%q) = %v; want %s: %s", path, yaml, err, path, want)
			}
			count++
			ft := f.typ
			switch {
			case isBlock(ft):
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				walk(ft, join(path, f.name), func(s string) string { return wrap(f.name + ": {" + s + "}") })
			case ft.Kind() == reflect.Slice && isBlock(ft.Elem()):
				walk(ft.Elem(), join(path, f.name)+"[0]", func(s string) string { return wrap(f.name + ": [{" + s + "}]") })
			}
		}
	}
	walk(reflect.TypeFor[Config](), "", func(s string) string { return s })
	if count < 100 {
		t.Errorf("only %d keys checked", count)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// TestProblemsTogether: a type error does not hide the other problems of
// the file: decoding problems and Validate's come together, in line order,
// each with its line, and a value that did not decode is reported once.
func TestProblemsTogether(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.yaml")
	yaml := `listen: 127.0.0.1:8080
durability: fsync
plugins:
  - {name: enrich, path: enrich.wasm}
max_body_size: lots
workers: 1.5
routes:
  - name: orders
    mode: async
    transforms: [enrich]
    destination: {url: "http://127.0.0.1:9000/orders"}
    orderby: "json:/customer/id"
    retry:
      max_attempts: 3
      initial_backoff: soon
  - name: refunds
    mode: [sync]
    destination:
      url: http://127.0.0.1:9000/refunds
    transforms: [enrich, missing]
  - name: orders
    mode: sync
http:
  max_hops: 0
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("Load = %v, want a FileError", err)
	}
	want := []string{
		`line 5: max_body_size: "lots" is not a size (e.g. 65536, 512KiB, 16MiB)`,
		`line 6: workers: must be a whole number, got "1.5"`,
		`line 12: routes[0]: unknown key orderby (did you mean order_by?)`,
		`line 15: routes[0].retry.initial_backoff: "soon" is not a duration (e.g. 5s, 250ms)`,
		`line 17: routes[1].mode: must be a string, got a list`, // and not also "must be sync or async"
		`line 20: routes[1].transforms[1]: no plugin named "missing"`,
		`line 21: routes[2].name: duplicate route "orders"`,
		`line 24: http.max_hops: must be at least 1`,
	}
	var got []string
	for _, p := range fe.Problems {
		got = append(got, p.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if msg := err.Error(); !strings.HasPrefix(msg, path+": invalid config:\n  - line 5: max_body_size") || strings.Count(msg, "\n  - ") != len(want) {
		t.Errorf("message:\n%s", msg)
	}

	// The same file without its decoding problems: Validate's problems,
	// with their lines.
	fixed := strings.NewReplacer("lots", "1MiB", "1.5", "2", "orderby", "order_by", "soon", "1s", "[sync]", "sync").Replace(yaml)
	c, err := Parse([]byte(fixed))
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = "./data"
	err = c.Validate()
	if err == nil || err.Error() != strings.Join([]string{
		`line 20: routes[1].transforms[1]: no plugin named "missing"`,
		`line 21: routes[2].name: duplicate route "orders"`,
		`line 24: http.max_hops: must be at least 1`,
	}, "\n") {
		t.Errorf("Validate:\n%v", err)
	}
}

// TestProblemsCapped: the message lists MaxProblems problems and how many
// more there are; Unwrap has them all.
func TestProblemsCapped(t *testing.T) {
	var b strings.Builder
	for i := range MaxProblems + 5 {
		fmt.Fprintf(&b, "unknown_%d: x\n", i)
	}
	_, err := Parse([]byte(b.String()))
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != MaxProblems+5 {
		t.Fatalf("Parse = %v", err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != MaxProblems+1 || lines[MaxProblems] != "and 5 more" || lines[0] != "line 1: unknown key unknown_0" {
		t.Errorf("message:\n%s", err)
	}
	if n := len(ps.Unwrap()); n != MaxProblems+5 {
		t.Errorf("Unwrap: %d errors", n)
	}
}

// TestDecodeYAMLFeatures: merge keys, aliases, keys set twice, nulls and
// the values yaml.v3 would have decoded wrongly.
func TestDecodeYAMLFeatures(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // problems; none: check holds
		check      func(c Config) bool
	}{
		{name: "merge", yaml: "routes:\n  - &base {name: a, mode: async, destination: {url: 'http://x', timeout: 3s}}\n  - {<<: *base, name: b}\n",
			check: func(c Config) bool {
				return len(c.Routes) == 2 && c.Routes[1].Name == "b" && c.Routes[1].Mode == "async" && c.Routes[1].Destination.Timeout.D() == 3*time.Second
			}},
		{name: "merge list, first wins", yaml: "routes: [{<<: [{name: a, mode: sync}, {name: b, mode: async}]}]",
			check: func(c Config) bool { return c.Routes[0].Name == "a" && c.Routes[0].Mode == "sync" }},
		{name: "unknown key in a merged block reported once", yaml: "routes:\n  - &b {name: a, colour: red}\n  - {<<: *b, name: b}\n  - {<<: *b, name: c}\n",
			want: []string{"line 2: routes[0]: unknown key colour"}},
		{name: "merge of itself", yaml: "x: &a {<<: *a}\nroutes: [{<<: *a}]\n",
			want: []string{"line 1: unknown key x", "line 1: routes[0]: << (merge) includes the block itself"}},
		{name: "merge of a list", yaml: "routes: [{<<: [a, b]}]", want: []string{
			`line 1: routes[0]: << (merge) takes a block of keys or a list of them, got "a"`,
			`line 1: routes[0]: << (merge) takes a block of keys or a list of them, got "b"`}},
		{name: "alias", yaml: "plugins: [{name: p, path: p.wasm, timeout: &t 2s}]\nsync_timeout: *t\n",
			check: func(c Config) bool { return c.SyncTimeout.D() == 2*time.Second }},
		{name: "set twice", yaml: "listen: :1\nroutes: []\nlisten: :2\n", want: []string{"line 3: listen: set twice (first on line 1)"}},
		{name: "null keeps the default", yaml: "max_body_size: ~\nhttp: ~\nroutes: [{name: a, destination: ~}]\n",
			check: func(c Config) bool {
				return c.MaxBodySize == Default().MaxBodySize && c.HTTP.MaxHops == 8 && c.Routes[0].Destination == nil
			}},
		{name: "whole numbers", yaml: "workers: 2.0\nplugin_defaults: {fuel: 1e9}\n",
			check: func(c Config) bool { return c.Workers == 2 && c.PluginDefaults.Fuel == 1e9 }},
		{name: "not whole", yaml: "workers: 2.5\nbacklog: {max_messages: .inf}\n", want: []string{
			`line 1: workers: must be a whole number, got "2.5"`, `line 2: backlog.max_messages: must be a whole number, got ".inf"`}},
		{name: "wrong kinds", yaml: "routes: {name: a}\nhttp: [1]\nrequire_auth: maybe\nlisten: [a]\nsync_timeout: {a: 1}\n", want: []string{
			"line 1: routes: must be a list, got a block of keys",
			"line 2: http: must be a block of keys (key: value), got a list",
			`line 3: require_auth: must be true or false, got "maybe"`,
			"line 4: listen: must be a string, got a list",
			"line 5: sync_timeout: must be a duration (e.g. 5s, 250ms), got a block of keys"}},
		{name: "list of strings", yaml: "routes: [{name: a, transforms: [x, [y]]}]", want: []string{
			"line 1: routes[0].transforms: must be a string, got a list"}},
		{name: "not a block", yaml: "- listen: :1\n", want: []string{"line 1: must be a block of keys (key: value), got a list"}},
		{name: "key not a name", yaml: "[a]: 1\n", want: []string{"line 1: a key must be a name, got a list"}},
		{name: "secret behind an alias", yaml: "admin_token: &s s3cret-0123456789abcdef\nsync_timeout: *s\n", want: []string{
			`line 1: sync_timeout: "[redacted]" is not a duration (e.g. 5s, 250ms)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			var got []string
			if err != nil {
				var ps Problems
				if !errors.As(err, &ps) {
					t.Fatalf("Parse = %v", err)
				}
				for _, p := range ps {
					got = append(got, p.Error())
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.check != nil && !tc.check(c) {
				t.Errorf("decoded wrongly: %+v", c)
			}
		})
	}
}

// TestAliasBomb: a document that expands exponentially through merges and
// aliases stops with a problem, quickly.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x0: &a0 {name: a, mode: sync, transforms: [a, b, c, d, e, f, g, h]}\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&b, "x%d: &a%d {<<: [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]}\n")
	}
	b.WriteString("routes: [*a12, *a12]\n")
	start := time.Now()
	_, err := Parse([]byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "expands (through aliases and merges) to more than") {
		t.Fatalf("Parse = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}
