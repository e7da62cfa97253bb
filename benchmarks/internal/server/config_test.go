package server

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime/config"
	"go.yaml.in/yaml/v3"
)

func TestRenderBenchConfig(t *testing.T) {
	withAdmin := BenchConfig("127.0.0.1:18080", "/tmp/xyz/data", DurabilityFsync)
	withAdmin.AdminListen = "127.0.0.1:18081"
	tests := []struct {
		name string
		cfg  SluiceConfig
		want string
	}{
		{"admin API off", BenchConfig("127.0.0.1:18080", "/tmp/xyz/data", DurabilityFsync), `listen: 127.0.0.1:18080
admin_listen: "off"
data_dir: /tmp/xyz/data
durability: fsync
routes:
  - name: bench
    mode: async
    order_by: none
`},
		{"admin API on its own port", withAdmin, `listen: 127.0.0.1:18080
admin_listen: 127.0.0.1:18081
data_dir: /tmp/xyz/data
durability: fsync
routes:
  - name: bench
    mode: async
    order_by: none
`},
		{"github verification", VerifyConfig("127.0.0.1:1", "/d", "s3cret: #x"), `listen: 127.0.0.1:1
admin_listen: "off"
data_dir: /d
durability: fsync
routes:
  - name: bench
    mode: async
    order_by: none
    auth:
      verify: github
      secret: 's3cret: #x'
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.Render()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("rendered:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestSluiceAcceptsRenderedConfigs parses and validates the rendered files
// with Sluice's own config package, so that a server does not refuse to
// start in the middle of a run.
func TestSluiceAcceptsRenderedConfigs(t *testing.T) {
	const listen, admin, sink = "127.0.0.1:18080", "127.0.0.1:18081", "http://127.0.0.1:18082/sink"
	tests := []struct {
		name string
		cfg  SluiceConfig
	}{
		{"bench", BenchConfig(listen, "/d", DurabilityNone)},
		{"verify", VerifyConfig(listen, "/d", "bench-secret")},
		{"e2e", E2EConfig(listen, "/d", sink, "", 1000)},
		{"sync", SyncConfig(listen, "/d", sink, "")},
		{"ordering", OrderingConfig(listen, "/d", sink, "", OrderByHeader("X-Order-Key"), 1000)},
	}
	for _, tt := range tests {
		for _, adminListen := range []string{AdminOff, admin} {
			t.Run(tt.name+" admin "+adminListen, func(t *testing.T) {
				c := tt.cfg
				c.AdminListen = adminListen
				b, err := c.Render()
				if err != nil {
					t.Fatal(err)
				}
				sc, err := config.Parse(b)
				if err != nil {
					t.Fatalf("%v\n%s", err, b)
				}
				if err := sc.Validate(); err != nil {
					t.Fatalf("%v\n%s", err, b)
				}
				if sc.AdminListen != adminListen {
					t.Errorf("admin_listen %q, want %q", sc.AdminListen, adminListen)
				}
				if a := sc.Routes[0].Auth; (a != nil) != (c.Routes[0].Auth != nil) ||
					a != nil && (a.Verify != config.AuthGitHub || len(a.Secret) != 1 || a.Secret[0].Reveal() != "bench-secret") {
					t.Errorf("auth %+v, rendered from %+v", a, c.Routes[0].Auth)
				}
			})
		}
	}
}

func TestRenderQuotesAndRoundTrips(t *testing.T) {
	// Paths with YAML-special characters must survive.
	in := BenchConfig("127.0.0.1:1", "/tmp/a: b #c/data", DurabilityNone)
	b, err := in.Render()
	if err != nil {
		t.Fatal(err)
	}
	var out SluiceConfig
	if err := yaml.Unmarshal(b, &out); err != nil {
		t.Fatalf("parsing rendered config: %v\n%s", err, b)
	}
	if out.DataDir != in.DataDir || out.Durability != in.Durability || len(out.Routes) != 1 {
		t.Errorf("round trip changed config: %+v", out)
	}
}

func TestValidate(t *testing.T) {
	ok := BenchConfig("127.0.0.1:1", "/d", DurabilityFsync)
	tests := []struct {
		name    string
		mutate  func(*SluiceConfig)
		wantKey string // substring the error must name; "" means valid
	}{
		{"valid", func(*SluiceConfig) {}, ""},
		{"no listen", func(c *SluiceConfig) { c.Listen = "" }, "listen"},
		{"no data dir", func(c *SluiceConfig) { c.DataDir = "" }, "data_dir"},
		{"bad durability", func(c *SluiceConfig) { c.Durability = "sometimes" }, "durability"},
		{"no routes", func(c *SluiceConfig) { c.Routes = nil }, "routes"},
		{"unnamed route", func(c *SluiceConfig) { c.Routes = []Route{{Mode: "async"}} }, "routes[0].name"},
		{"bad mode", func(c *SluiceConfig) { c.Routes[0].Mode = "later" }, "routes[0].mode"},
		{"empty destination", func(c *SluiceConfig) { c.Routes[0].Destination = &Destination{} }, "destination.url"},
		{"plugin without path", func(c *SluiceConfig) { c.Plugins = []Plugin{{Name: "x"}} }, "plugins[0]"},
		{"bad order_by", func(c *SluiceConfig) { c.Routes[0].OrderBy = "key" }, "routes[0].order_by"},
		{"header without name", func(c *SluiceConfig) { c.Routes[0].OrderBy = "header: " }, "routes[0].order_by"},
		{"json without pointer", func(c *SluiceConfig) { c.Routes[0].OrderBy = "json:id" }, "routes[0].order_by"},
		{"order_by on a sync route", func(c *SluiceConfig) { c.Routes[0].Mode = "sync" }, "routes[0].order_by"},
		{"per-key order", func(c *SluiceConfig) { c.Routes[0].OrderBy = OrderByHeader("X-Order-Key") }, ""},
		{"json order", func(c *SluiceConfig) { c.Routes[0].OrderBy = "json:/customer/id" }, ""},
		{"strict FIFO", func(c *SluiceConfig) { c.Routes[0].OrderBy = OrderRoute }, ""},
		{"admin on loopback", func(c *SluiceConfig) { c.AdminListen = "127.0.0.1:2" }, ""},
		{"admin on IPv6 loopback", func(c *SluiceConfig) { c.AdminListen = "[::1]:2" }, ""},
		{"no admin", func(c *SluiceConfig) { c.AdminListen = "" }, "admin_listen"},
		{"admin not on loopback", func(c *SluiceConfig) { c.AdminListen = "0.0.0.0:2" }, "admin_listen"},
		{"admin without port", func(c *SluiceConfig) { c.AdminListen = "127.0.0.1" }, "admin_listen"},
		{"admin on port 0", func(c *SluiceConfig) { c.AdminListen = "127.0.0.1:0" }, "admin_listen"},
		{"admin is the ingress", func(c *SluiceConfig) { c.AdminListen = c.Listen }, "admin_listen"},
		{"github auth", func(c *SluiceConfig) { c.Routes[0].Auth = &Auth{Verify: VerifyGitHub, Secret: "s"} }, ""},
		{"auth without secret", func(c *SluiceConfig) { c.Routes[0].Auth = &Auth{Verify: VerifyGitHub} }, "routes[0].auth"},
		{"auth scheme not signed", func(c *SluiceConfig) { c.Routes[0].Auth = &Auth{Verify: "stripe", Secret: "s"} }, "routes[0].auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			c.Routes = append([]Route(nil), ok.Routes...)
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantKey) {
				t.Fatalf("error %v does not name %q", err, tt.wantKey)
			}
		})
	}
}

func TestTailLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb", 5, "a\nb"},
		{"a\nb\n", 0, ""},
	}
	for _, tt := range tests {
		if got := TailLines([]byte(tt.in), tt.n); got != tt.want {
			t.Errorf("TailLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestRenderE2EAndSyncConfigs(t *testing.T) {
	tests := []struct {
		name string
		cfg  SluiceConfig
		want string
	}{
		{"e2e", E2EConfig("127.0.0.1:1", "/d", "http://127.0.0.1:2/sink", "/w/upper.wasm", 2000), `listen: 127.0.0.1:1
admin_listen: "off"
data_dir: /d
durability: fsync
plugins:
  - name: upper
    path: /w/upper.wasm
routes:
  - name: e2e
    mode: async
    order_by: none
    transforms:
      - upper
    destination:
      url: http://127.0.0.1:2/sink
    backlog:
      max_messages: 2000
`},
		{"sync without transform", SyncConfig("127.0.0.1:1", "/d", "http://127.0.0.1:2/sink", ""), `listen: 127.0.0.1:1
admin_listen: "off"
data_dir: /d
durability: fsync
routes:
  - name: sync
    mode: sync
    destination:
      url: http://127.0.0.1:2/sink
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.Render()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("rendered:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestRenderOrderingAndRestartConfigs(t *testing.T) {
	tests := []struct {
		name string
		cfg  SluiceConfig
		want string
	}{
		{"per-key ordering", OrderingConfig("127.0.0.1:1", "/d", "http://127.0.0.1:2/sink", "/w/upper.wasm",
			OrderByHeader("X-Order-Key"), 1000), `listen: 127.0.0.1:1
admin_listen: "off"
data_dir: /d
durability: fsync
plugins:
  - name: upper
    path: /w/upper.wasm
routes:
  - name: order
    mode: async
    order_by: header:X-Order-Key
    transforms:
      - upper
    destination:
      url: http://127.0.0.1:2/sink
    backlog:
      max_messages: 1000
`},
		{"strict FIFO without transform", OrderingConfig("127.0.0.1:1", "/d", "http://127.0.0.1:2/sink", "",
			OrderRoute, 0), `listen: 127.0.0.1:1
admin_listen: "off"
data_dir: /d
durability: fsync
routes:
  - name: order
    mode: async
    order_by: route
    destination:
      url: http://127.0.0.1:2/sink
`},
		{"restart", RestartConfig("127.0.0.1:1", "/d", []Plugin{{Name: "big", Path: "/w/big.wasm"},
			{Name: "small", Path: "/w/small.wasm"}}), `listen: 127.0.0.1:1
admin_listen: "off"
data_dir: /d
durability: fsync
plugins:
  - name: big
    path: /w/big.wasm
  - name: small
    path: /w/small.wasm
routes:
  - name: big
    mode: async
    order_by: none
    transforms:
      - big
  - name: small
    mode: async
    order_by: none
    transforms:
      - small
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.Render()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("rendered:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
