package harness

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/benchmarks/internal/load"
	"github.com/sluicehq/sluice/benchmarks/internal/report"
	"github.com/sluicehq/sluice/benchmarks/internal/server"
	"github.com/sluicehq/sluice/runtime/verify"
	"github.com/valyala/fasthttp"
)

func validConfig() Config {
	c := Default()
	c.RepoDir = "/repo"
	c.Self = "/bin/ingest"
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*Config)
		wantField string // "" means valid
	}{
		{"default", func(*Config) {}, ""},
		{"self-test needs no repo", func(c *Config) { c.RepoDir = ""; c.SelfTest = true }, ""},
		{"no repo", func(c *Config) { c.RepoDir = "" }, "repo_dir"},
		{"no self", func(c *Config) { c.Self = "" }, "self"},
		{"no suites", func(c *Config) { c.Suites = nil }, "suites"},
		{"unknown suite", func(c *Config) { c.Suites = []string{"ingest", "bogus"} }, "suites"},
		{"repeated suite", func(c *Config) { c.Suites = []string{"sync", "sync"} }, "suites"},
		{"no conns", func(c *Config) { c.Conns = nil }, "conns"},
		{"no conns needed without ingest", func(c *Config) { c.Conns = nil; c.Suites = []string{"sync"} }, ""},
		{"zero conns", func(c *Config) { c.Conns = []int{64, 0} }, "conns"},
		{"bad rate", func(c *Config) { c.Rates = []float64{5000, 0} }, "rates"},
		{"no fsync samples", func(c *Config) { c.FsyncSamples = 0 }, "fsync_samples"},
		{"no rounds", func(c *Config) { c.Rounds = 0 }, "rounds"},
		{"no measure", func(c *Config) { c.Measure = 0 }, "measure"},
		{"negative body", func(c *Config) { c.BodyBytes = -1 }, "body_bytes"},
		{"no payloads", func(c *Config) { c.Payloads = nil }, "payloads"},
		{"empty payload", func(c *Config) { c.Payloads = []int{256, 0} }, "payloads"},
		{"payload over max_body_size", func(c *Config) { c.Payloads = []int{16<<20 + 1} }, "payloads"},
		{"no payloads needed without the suite", func(c *Config) { c.Payloads = nil; c.Suites = []string{"ordering"} }, ""},
		{"no order keys", func(c *Config) { c.OrderKeys = 0 }, "order_keys"},
		{"no order backlog", func(c *Config) { c.OrderBacklog = 0 }, "order_backlog"},
		{"no extra rounds", func(c *Config) { c.ExtraRounds = 0 }, "extra_rounds"},
		{"no extra measure", func(c *Config) { c.ExtraMeasure = 0 }, "extra_measure"},
		{"negative extra warmup", func(c *Config) { c.ExtraWarmup = -1 }, "extra_warmup"},
		{"extra settings unused", func(c *Config) { c.ExtraRounds = 0; c.Suites = []string{"ingest"} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantField) {
				t.Fatalf("error %v does not name %q", err, tt.wantField)
			}
		})
	}
}

func TestDefaultRunFitsBudget(t *testing.T) {
	c := validConfig()
	// The whole default run must stay under 10 minutes on 2 cores; build,
	// startup, settling between runs, the fsync probe and the stops of the
	// restart suite take about 1½ more (72 s for the first four suites in
	// the 2026-11-26 run, ~0.5–1 s per run of the payload, verify and
	// ordering suites).
	if d := c.Duration(); d > 8*time.Minute {
		t.Errorf("default measurements take %v; the whole run must stay under 10 min", d)
	}
	if c.Rounds < 5 {
		t.Errorf("default rounds %d, the issue asks for ≥ 5", c.Rounds)
	}
	if r := c.rounds(report.SuitePayload); r < 3 {
		t.Errorf("default rounds of the payload, ordering and restart suites %d, want ≥ 3 for a median", r)
	}
}

func TestDuration(t *testing.T) {
	c := validConfig()
	c.Rounds, c.Warmup, c.Measure = 5, time.Second, 3*time.Second
	c.ExtraRounds, c.ExtraWarmup, c.ExtraMeasure = 3, 500*time.Millisecond, 1500*time.Millisecond
	tests := []struct {
		suites []string
		want   time.Duration
	}{
		{[]string{"ingest"}, 8 * 5 * 4 * time.Second}, // 4 servers × 2 conns
		{[]string{"payload"}, 6 * 3 * 2 * time.Second},
		{[]string{"verify"}, 2 * 3 * 2 * time.Second},
		{[]string{"ordering"}, 3 * 3 * 2 * time.Second},
		{[]string{"restart"}, 3 * restartRoundEstimate},
		{[]string{"tracing"}, 2 * 3 * 2 * time.Second},
		{report.DefaultSuites, 20*5*4*time.Second + 11*3*2*time.Second + 3*restartRoundEstimate},
	}
	for _, tt := range tests {
		c.Suites = tt.suites
		if got := c.Duration(); got != tt.want {
			t.Errorf("Duration(%v) = %v, want %v", tt.suites, got, tt.want)
		}
	}
}

func TestExtraSuitesBudgetIsCapped(t *testing.T) {
	c := validConfig()
	c.Rounds, c.Warmup, c.Measure = 1, 200*time.Millisecond, time.Second
	for _, s := range report.ExtraSuites {
		if r := c.rounds(s); r != 1 {
			t.Errorf("%s: %d rounds with -rounds 1", s, r)
		}
		if w, m := c.window(s); w != 200*time.Millisecond || m != time.Second {
			t.Errorf("%s: window %v + %v, want the smaller main one", s, w, m)
		}
	}
	c = validConfig()
	if r := c.rounds(report.SuiteIngest); r != c.Rounds {
		t.Errorf("ingest rounds %d, want %d", r, c.Rounds)
	}
	if w, m := c.window(report.SuiteOrdering); w != c.ExtraWarmup || m != c.ExtraMeasure {
		t.Errorf("ordering window %v + %v, want %v + %v", w, m, c.ExtraWarmup, c.ExtraMeasure)
	}
}

func TestGroups(t *testing.T) {
	c := validConfig()
	c.Conns = []int{64, 256}
	steps := func(g group) []string {
		var s []string
		for _, st := range g.steps {
			s = append(s, st.server)
		}
		return s
	}
	ingest := groups(c, report.SuiteIngest)
	if len(ingest) != 2 || ingest[1].conns != 256 ||
		!slices.Equal(steps(ingest[0]), []string{"bare", "sluice-fsync", "sluice-none", "by-hand"}) {
		t.Errorf("ingest groups %+v", ingest)
	}
	e2e := groups(c, report.SuiteE2E)
	if len(e2e) != 1 || e2e[0].steps[1].deliveries != report.NameSink || e2e[0].steps[0].deliveries != "" {
		t.Errorf("e2e groups %+v", e2e)
	}
	sync := groups(c, report.SuiteSync)
	if len(sync) != 2 || sync[0].conns != 1 || !sync[0].fsync || sync[1].fsync || sync[1].conns != 64 {
		t.Errorf("sync groups %+v", sync)
	}
	open := groups(c, report.SuiteOpenLoop)
	if len(open) != 2 || open[1].rate != 10000 || open[1].steps[2].rate != 10000 {
		t.Errorf("openloop groups %+v", open)
	}
	payload := groups(c, report.SuitePayload)
	if len(payload) != 3 || payload[2].steps[0].body != 65536 || payload[2].steps[1].body != 65536 ||
		!slices.Equal(steps(payload[0]), []string{"bare", "sluice-fsync"}) || payload[0].steps[0].body != 256 {
		t.Errorf("payload groups %+v", payload)
	}
	ver := groups(c, report.SuiteVerify)
	if len(ver) != 1 || !slices.Equal(steps(ver[0]), []string{"sluice-fsync", "sluice-github"}) {
		t.Fatalf("verify groups %+v", ver)
	}
	for i, st := range ver[0].steps {
		// Both sides signed: the generator's cost and the bytes parsed are equal.
		if !st.signed || st.conns != report.GoalConns || st.body != 0 || st.keys != 0 || st.deliveries != "" {
			t.Errorf("verify step %d: %+v", i, st)
		}
	}
	order := groups(c, report.SuiteOrdering)
	if len(order) != 1 || !slices.Equal(steps(order[0]), []string{"sluice-order-none", "sluice-order-key", "sluice-order-fifo"}) {
		t.Fatalf("ordering groups %+v", order)
	}
	for i, st := range order[0].steps {
		wantKeys := map[int]int{1: c.OrderKeys}[i]
		if st.deliveries != report.NameSink || !st.shed || st.keys != wantKeys || st.conns != report.GoalConns {
			t.Errorf("ordering step %d: %+v", i, st)
		}
	}
	if g := groups(c, report.SuiteRestart); len(g) != 0 {
		t.Errorf("restart groups %+v: it starts its own servers", g)
	}
	// Every step's server is one of its suite's roles.
	for _, s := range report.AllSuites {
		var names []string
		for _, r := range roles(s) {
			names = append(names, r.name)
		}
		for _, g := range groups(c, s) {
			for _, st := range g.steps {
				if !slices.Contains(names, st.server) {
					t.Errorf("%s: step on %s, not a role", s, st.server)
				}
			}
		}
	}
}

func TestPlan(t *testing.T) {
	tmp := t.TempDir()
	c := validConfig()
	insts, err := plan(c, report.SuiteIngest, tmp, "/bin/sluice")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	addrs := map[string]bool{}
	for _, in := range insts {
		names = append(names, in.meta.Name)
		addrs[in.spec.Addr] = true
	}
	if want := []string{"bare", "sluice-fsync", "sluice-none", "by-hand"}; !slices.Equal(names, want) {
		t.Fatalf("servers %v, want %v", names, want)
	}
	for _, in := range insts {
		if in.admin != "" {
			addrs[in.admin] = true
		}
	}
	// Two Sluice servers with an admin API each: six distinct ports.
	if len(addrs) != 6 {
		t.Errorf("servers share addresses: %v", addrs)
	}
	bare, fsync, byHand := insts[0], insts[1], insts[3]
	if bare.spec.Path != c.Self || !slices.Equal(bare.spec.Args[:1], []string{BareServerCommand}) ||
		!slices.Contains(bare.spec.Args, "202") {
		t.Errorf("bare command = %s %v", bare.spec.Path, bare.spec.Args)
	}
	if byHand.spec.Path != c.Self || byHand.spec.Args[0] != ByHandServerCommand ||
		!slices.Contains(byHand.spec.Args, filepath.Join("/repo", TransformModule)) {
		t.Errorf("by-hand command = %s %v", byHand.spec.Path, byHand.spec.Args)
	}
	if fsync.spec.Path != "/bin/sluice" || !slices.Equal(fsync.spec.Args[:2], []string{"serve", "--config"}) {
		t.Errorf("sluice command = %s %v", fsync.spec.Path, fsync.spec.Args)
	}
	for _, in := range insts {
		if hasAdmin := in.meta.Kind == "sluice"; (in.admin != "") != hasAdmin {
			t.Errorf("%s (%s): admin API %q", in.meta.Name, in.meta.Kind, in.admin)
		}
	}
	yml, err := os.ReadFile(fsync.spec.Args[2])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listen: " + fsync.spec.Addr, "admin_listen: " + fsync.admin, "durability: fsync", "mode: async",
		"data_dir: " + filepath.Join(tmp, "ingest", "sluice-fsync", "data")} {
		if !strings.Contains(string(yml), want) {
			t.Errorf("config lacks %q:\n%s", want, yml)
		}
	}
}

func TestPlanRoutesDeliverToTheSink(t *testing.T) {
	for _, suite := range []string{report.SuiteE2E, report.SuiteSync} {
		t.Run(suite, func(t *testing.T) {
			insts, err := plan(validConfig(), suite, t.TempDir(), "/bin/sluice")
			if err != nil {
				t.Fatal(err)
			}
			sink, sl := insts[0], insts[1]
			if sink.meta.Name != report.NameSink || sink.status != 200 || !slices.Contains(sink.spec.Args, "200") {
				t.Errorf("sink %+v", sink.spec)
			}
			yml, err := os.ReadFile(sl.spec.Args[2])
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"url: http://" + sink.spec.Addr + "/sink", "- upper", "path: /repo/" + TransformModule} {
				if !strings.Contains(string(yml), want) {
					t.Errorf("config lacks %q:\n%s", want, yml)
				}
			}
			wantStatus := map[string]int{report.SuiteE2E: 202, report.SuiteSync: 200}[suite]
			if sl.status != wantStatus || sl.path != "/in/"+suite {
				t.Errorf("%s: POST %s expecting %d", sl.meta.Name, sl.path, sl.status)
			}
		})
	}
}

func TestPlanSelfTestUsesBareEverywhere(t *testing.T) {
	c := validConfig()
	c.SelfTest = true
	for _, suite := range report.AllSuites {
		insts, err := plan(c, suite, t.TempDir(), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range insts {
			if in.spec.Path != c.Self || in.spec.Args[0] != BareServerCommand || in.dataDir != "" || in.admin != "" {
				t.Errorf("%s in self-test runs %s %v", in.meta.Name, in.spec.Path, in.spec.Args)
			}
		}
	}
}

func TestParseBacklog(t *testing.T) {
	if b := parseBacklog([]byte(`{"log":{"batches":3,"backlog":128}}` + "\n")); b == nil || *b != 128 {
		t.Errorf("backlog %v", b)
	}
	for _, bad := range []string{``, `{}`, `{"log":{}}`, `not json`} {
		if b := parseBacklog([]byte(bad)); b != nil {
			t.Errorf("parseBacklog(%q) = %d", bad, *b)
		}
	}
}

func TestSluiceBacklog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) != "/v1/stats" {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			return
		}
		ctx.SetBodyString(`{"log":{"backlog":42},"ingress":{}}`)
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	if b := sluiceBacklog(ln.Addr().String()); b == nil || *b != 42 {
		t.Errorf("backlog %v, want 42", b)
	}
	if b := sluiceBacklog(""); b != nil {
		t.Errorf("backlog %d without an admin API", *b)
	}
}

func TestPlanVerify(t *testing.T) {
	insts, err := plan(validConfig(), report.SuiteVerify, t.TempDir(), "/bin/sluice")
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 2 || insts[0].meta.Name != report.NameSluiceFsync || insts[1].meta.Name != report.NameSluiceGitHub {
		t.Fatalf("servers %v", insts)
	}
	for i, in := range insts {
		wantAuth := []string{"", server.VerifyGitHub}[i]
		if in.meta.Auth != wantAuth || in.path != "/in/"+server.BenchRoute || in.status != 202 || in.admin == "" {
			t.Errorf("%s: auth %q, POST %s expecting %d, admin %q", in.meta.Name, in.meta.Auth, in.path, in.status, in.admin)
		}
		yml, err := os.ReadFile(in.spec.Args[2])
		if err != nil {
			t.Fatal(err)
		}
		hasAuth := strings.Contains(string(yml), "verify: github") && strings.Contains(string(yml), "secret: "+VerifySecret)
		if !strings.Contains(string(yml), "durability: fsync") || hasAuth != (wantAuth != "") {
			t.Errorf("%s config:\n%s", in.meta.Name, yml)
		}
	}
}

func TestFreePortsAreDistinct(t *testing.T) {
	f := freePorts{}
	seen := map[string]bool{}
	for range 20 {
		addr, err := f.next()
		if err != nil {
			t.Fatal(err)
		}
		if seen[addr] || !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("address %s handed out twice or not on loopback", addr)
		}
		seen[addr] = true
	}
}

// TestGitHubSignature checks the signature against GitHub's documented
// example and against Sluice's own verifier, on the body the verify suite
// sends.
func TestGitHubSignature(t *testing.T) {
	const docs = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := GitHubSignature("It's a Secret to Everybody", []byte("Hello, World!")); got != docs {
		t.Errorf("signature %s, want %s", got, docs)
	}
	v, err := verify.New(verify.Config{Scheme: verify.SchemeGitHub, Secrets: [][]byte{[]byte(VerifySecret)}})
	if err != nil {
		t.Fatal(err)
	}
	body := load.Body(load.Config{BodyBytes: Default().BodyBytes})
	var h fasthttp.RequestHeader
	h.Set(SignatureHeader, GitHubSignature(VerifySecret, body))
	if _, err := v.Verify(&h, body, time.Now()); err != nil {
		t.Errorf("Sluice refuses the harness's signature: %v", err)
	}
	body[0]++
	if _, err := v.Verify(&h, body, time.Now()); err == nil {
		t.Error("Sluice accepts the signature of another body")
	}
}

func TestProbeFsync(t *testing.T) {
	p, err := probeFsync(context.Background(), t.TempDir(), 5, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if p.Samples != 5 || p.P50us <= 0 || p.P99us < p.P50us {
		t.Errorf("probe %+v", p)
	}
}

func TestBaselines(t *testing.T) {
	want := map[string]string{"ingest": "bare", "e2e": "sink", "sync": "sink", "openloop": "bare",
		"payload": "bare", "verify": "sluice-fsync", "ordering": "sluice-order-none", "restart": "",
		"tracing": "sluice-e2e"}
	for _, s := range report.AllSuites {
		if got := baseline(s); got != want[s] {
			t.Errorf("baseline(%s) = %q, want %q", s, got, want[s])
		}
	}
}

func TestPlanOrdering(t *testing.T) {
	c := validConfig()
	insts, err := plan(c, report.SuiteOrdering, t.TempDir(), "/bin/sluice")
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 4 || insts[0].meta.Name != report.NameSink {
		t.Fatalf("servers %v", insts)
	}
	sink := insts[0]
	wantOrder := map[string]string{report.NameOrderNone: "none", report.NameOrderKey: "header:" + OrderHeader,
		report.NameOrderFIFO: "route"}
	for _, in := range insts[1:] {
		if in.meta.OrderBy != wantOrder[in.meta.Name] || in.path != "/in/order" || in.status != 202 {
			t.Errorf("%s: order_by %q, POST %s expecting %d", in.meta.Name, in.meta.OrderBy, in.path, in.status)
		}
		yml, err := os.ReadFile(in.spec.Args[2])
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"order_by: " + wantOrder[in.meta.Name], "max_messages: 1000",
			"url: http://" + sink.spec.Addr + "/sink", "- upper"} {
			if !strings.Contains(string(yml), want) {
				t.Errorf("%s config lacks %q:\n%s", in.meta.Name, want, yml)
			}
		}
	}
}

func TestRestartSpec(t *testing.T) {
	c := validConfig()
	dir := t.TempDir()
	plugins := []server.Plugin{{Name: "order-to-invoice", Path: "/repo/go.wasm"}, {Name: "upper", Path: "/repo/upper.wasm"}}
	spec, err := restartSpec(c, dir, filepath.Join(dir, "data"), "/bin/sluice", report.CacheWarm, plugins)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Path != "/bin/sluice" || !slices.Equal(spec.Args, []string{"serve", "--config", filepath.Join(dir, "warm.yaml")}) ||
		spec.LogPath != filepath.Join(dir, "warm.log") {
		t.Errorf("spec %+v", spec)
	}
	yml, err := os.ReadFile(spec.Args[2])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listen: " + spec.Addr, "data_dir: " + filepath.Join(dir, "data"),
		"path: /repo/go.wasm", "- order-to-invoice", "- upper"} {
		if !strings.Contains(string(yml), want) {
			t.Errorf("config lacks %q:\n%s", want, yml)
		}
	}
	c.SelfTest = true
	spec, err = restartSpec(c, dir, filepath.Join(dir, "data"), "", report.CacheCold, plugins)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Path != c.Self || spec.Args[0] != BareServerCommand {
		t.Errorf("self-test spec %+v", spec)
	}
}

func TestPluginName(t *testing.T) {
	for in, want := range map[string]string{
		RestartModules[0]: "order-to-invoice",
		TransformModule:   "upper",
	} {
		if got := pluginName(in); got != want {
			t.Errorf("pluginName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlanTracing(t *testing.T) {
	c := validConfig()
	insts, err := plan(c, report.SuiteTracing, t.TempDir(), "/bin/sluice")
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 4 || insts[0].meta.Name != report.NameSink || insts[1].meta.Name != report.NameOTLPSink {
		t.Fatalf("servers %v", insts)
	}
	sink, otlp := insts[0], insts[1]
	for _, in := range insts[2:] {
		yml, err := os.ReadFile(in.spec.Args[2])
		if err != nil {
			t.Fatal(err)
		}
		traced := strings.Contains(string(yml), "otlp_endpoint: http://"+otlp.spec.Addr+"/otlp") &&
			strings.Contains(string(yml), "sample_ratio: 1")
		if traced != (in.meta.Name == report.NameSluiceTraced) || !strings.Contains(string(yml), "url: http://"+sink.spec.Addr+"/sink") ||
			in.path != "/in/e2e" {
			t.Errorf("%s config (tracing on: %v):\n%s", in.meta.Name, traced, yml)
		}
	}
	g := groups(c, report.SuiteTracing)
	if len(g) != 1 || len(g[0].steps) != 2 || g[0].steps[1].server != report.NameSluiceTraced || g[0].steps[1].deliveries != report.NameSink {
		t.Fatalf("tracing groups %+v", g)
	}
}
