package dispatch

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// patience bounds every delivery in these tests: generous, the machine is
// small and shared.
const patience = 30 * time.Second

func prefixes(cidrs ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(cidrs))
	for i, c := range cidrs {
		out[i] = netip.MustParsePrefix(c)
	}
	return out
}

func TestParseNetworks(t *testing.T) {
	tests := []struct {
		entries []string
		want    []netip.Prefix
	}{
		{[]string{"loopback"}, prefixes("127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128")},
		{[]string{"metadata"}, prefixes("169.254.169.254/32", "fd00:ec2::254/128", "100.100.100.200/32")},
		{[]string{"unspecified", " private "}, prefixes("0.0.0.0/8", "::/128",
			"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")},
		{[]string{"10.0.0.0/8", "fd00::/8"}, prefixes("10.0.0.0/8", "fd00::/8")},
		{[]string{"10.1.2.3/8"}, prefixes("10.0.0.0/8")},                                // host bits dropped
		{[]string{"169.254.169.254", "::1"}, prefixes("169.254.169.254/32", "::1/128")}, // bare addresses
		{[]string{"::ffff:10.0.0.0/104"}, prefixes("10.0.0.0/8")},                       // mapped: checked as IPv4
		{[]string{"::ffff:127.0.0.1"}, prefixes("127.0.0.1/32")},
		{nil, nil},
	}
	for _, tt := range tests {
		got, err := ParseNetworks(tt.entries)
		if err != nil {
			t.Errorf("ParseNetworks(%q): %v", tt.entries, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseNetworks(%q) = %v, want %v", tt.entries, got, tt.want)
		}
	}
	all, err := ParseNetworks([]string{"all_internal"})
	if err != nil {
		t.Fatal(err)
	}
	var each []netip.Prefix
	for _, g := range []string{"loopback", "link_local", "private", "unspecified"} {
		each = append(each, group(g)...)
	}
	if !reflect.DeepEqual(all, each) {
		t.Errorf("all_internal = %v, want every group: %v", all, each)
	}

	bad := []struct {
		entries []string
		index   int
	}{
		{[]string{"loopback", "10.0.0.0/33"}, 1},
		{[]string{"Loopback"}, 0},
		{[]string{"localhost"}, 0},
		{[]string{""}, 0},
		{[]string{"private", "link_local", "10.0.0.0/8/9"}, 2},
		{[]string{"fe80::1%eth0"}, 0},
		{[]string{"10.0.0"}, 0},
	}
	for _, tt := range bad {
		_, err := ParseNetworks(tt.entries)
		var ne *NetworkError
		if !errors.As(err, &ne) {
			t.Errorf("ParseNetworks(%q) = %v, want a *NetworkError", tt.entries, err)
			continue
		}
		entry := tt.entries[tt.index]
		if ne.Index != tt.index || ne.Entry != entry {
			t.Errorf("ParseNetworks(%q): error names entry %d %q, want %d %q", tt.entries, ne.Index, ne.Entry, tt.index, entry)
		}
		if msg := err.Error(); !strings.Contains(msg, `"`+entry+`"`) || !strings.Contains(msg, "link_local") {
			t.Errorf("message %q does not quote the entry and list the groups", msg)
		}
	}
}

func TestDeniedBy(t *testing.T) {
	groups := map[string][]string{
		"all_internal": {
			"127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.1", "0.0.0.0", "0.1.2.3", "::",
			"169.254.169.254", "::ffff:169.254.169.254", "169.254.0.1", "fe80::1", "fe80::1%eth0", "febf::1",
			"10.0.0.1", "::ffff:10.1.1.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
			"100.64.0.1", "100.127.255.255", "100.100.100.200", "fc00::1", "fd00:ec2::254", "fdff::1",
		},
		"loopback":   {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::"},
		"metadata":   {"169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254", "100.100.100.200"},
		"link_local": {"169.254.169.254", "169.254.0.1", "fe80::1%eth0", "fd00:ec2::254"},
		"private":    {"10.255.255.255", "172.16.0.0", "192.168.0.1", "100.64.0.0", "fd12:3456::1"},
	}
	allowed := map[string][]string{
		"all_internal": {
			"8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0",
			"192.169.0.1", "2001:4860:4860::8888", "fe00::1", "fec0::1", "::ffff:8.8.8.8", "128.0.0.1",
		},
		"loopback":   {"0.1.2.3", "10.0.0.1", "169.254.169.254", "fe80::1"},
		"metadata":   {"169.254.169.253", "169.254.1.1", "fd00:ec2::253", "100.64.0.1"},
		"link_local": {"127.0.0.1", "10.0.0.1", "fd00::1"},
		"private":    {"127.0.0.1", "169.254.169.254", "::1", "fe80::1"},
	}
	for name, addrs := range groups {
		for _, a := range addrs {
			if _, ok := deniedBy(group(name), netip.MustParseAddr(a)); !ok {
				t.Errorf("%s does not deny %s", name, a)
			}
		}
	}
	for name, addrs := range allowed {
		for _, a := range addrs {
			if p, ok := deniedBy(group(name), netip.MustParseAddr(a)); ok {
				t.Errorf("%s denies %s (in %s)", name, a, p)
			}
		}
	}
}

// destination is a loopback HTTP server that counts the connections it
// accepts.
type destination struct {
	port    string
	accepts atomic.Int64
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// startDestination serves on 127.0.0.1; closeConns answers Connection:
// close, so that every delivery dials anew.
func startDestination(t *testing.T, closeConns bool) *destination {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &destination{}
	_, d.port, _ = net.SplitHostPort(ln.Addr().String())
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString("ok")
		if closeConns {
			ctx.SetConnectionClose()
		}
	}, CloseOnShutdown: true}
	served := make(chan struct{})
	go func() { defer close(served); s.Serve(countingListener{ln, &d.accepts}) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		s.ShutdownWithContext(ctx)
		<-served
	})
	return d
}

func (d *destination) url(host string) string {
	return "http://" + net.JoinHostPort(host, d.port) + "/hook"
}

func send(dp *Dispatcher, url string) error {
	var resp Response
	err := dp.Send(&Request{URL: url, Body: []byte("{}"), ContentType: "application/json", Timeout: patience}, &resp)
	if err == nil && (resp.Status != 200 || string(resp.Body) != "ok") {
		return errors.New("unexpected answer " + string(resp.Body))
	}
	return err
}

func mustParse(t *testing.T, entries ...string) []netip.Prefix {
	t.Helper()
	p, err := ParseNetworks(entries)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// denied checks that err is a CodeDenied *Error and returns its
// *DeniedError.
func denied(t *testing.T, err error) *DeniedError {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeDenied {
		t.Fatalf("Send = %v, want a %s *Error", err, CodeDenied)
	}
	var de *DeniedError
	if !errors.As(err, &de) {
		t.Fatalf("%v does not wrap a *DeniedError", err)
	}
	return de
}

// TestSendDenied: with loopback denied, no form of a loopback destination
// gets a connection; the same URLs work without the deny-list.
func TestSendDenied(t *testing.T) {
	dst := startDestination(t, false)
	dp := New(Options{DenyNetworks: mustParse(t, "loopback")})
	tests := []struct {
		host   string
		denied string // the address named
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"localhost", "127.0.0.1"}, // a name resolving to loopback
		{"::ffff:127.0.0.1", "127.0.0.1"},
		{"127.1.2.3", "127.1.2.3"},
		{"0.0.0.0", "0.0.0.0"},
		{"::1", "::1"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			url := dst.url(tt.host)
			err := send(dp, url)
			de := denied(t, err)
			if !slicesContains(de.Addrs, netip.MustParseAddr(tt.denied)) {
				t.Errorf("denied addresses %v, want %s among them", de.Addrs, tt.denied)
			}
			for _, s := range []string{url, tt.denied, "dispatch.deny_networks"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q does not say %q", err, s)
				}
			}
		})
	}
	if n := dst.accepts.Load(); n != 0 {
		t.Fatalf("the destination accepted %d connections, want 0", n)
	}
	err := send(dp, dst.url("127.0.0.1"))
	want := "destination " + dst.url("127.0.0.1") + " refused: 127.0.0.1 is in 127.0.0.0/8, which dispatch.deny_networks denies"
	if err.Error() != want {
		t.Errorf("message\n%s\nwant\n%s", err, want)
	}

	t.Run("allowed without a deny-list", func(t *testing.T) {
		open := New(Options{})
		// 0.0.0.0 reaches the local host (Linux, macOS): why loopback has it.
		for _, host := range []string{"127.0.0.1", "localhost", "::ffff:127.0.0.1", "0.0.0.0"} {
			if err := send(open, dst.url(host)); err != nil {
				t.Errorf("%s: %v", host, err)
			}
		}
		if dst.accepts.Load() == 0 {
			t.Error("no connection reached the destination")
		}
	})
	t.Run("allowed by a deny-list without loopback", func(t *testing.T) {
		dp := New(Options{DenyNetworks: mustParse(t, "private", "link_local", "unspecified")})
		for _, host := range []string{"127.0.0.1", "localhost", "::ffff:127.0.0.1"} {
			if err := send(dp, dst.url(host)); err != nil {
				t.Errorf("%s: %v", host, err)
			}
		}
	})
}

func slicesContains(s []netip.Addr, a netip.Addr) bool {
	for _, x := range s {
		if x == a {
			return true
		}
	}
	return false
}

// TestSendCIDR: a CIDR entry denies what it covers and nothing else.
func TestSendCIDR(t *testing.T) {
	dst := startDestination(t, false)
	de := denied(t, send(New(Options{DenyNetworks: mustParse(t, "127.0.0.0/24")}), dst.url("127.0.0.1")))
	if want := netip.MustParsePrefix("127.0.0.0/24"); len(de.Networks) != 1 || de.Networks[0] != want {
		t.Errorf("denied by %v, want %s", de.Networks, want)
	}
	if n := dst.accepts.Load(); n != 0 {
		t.Fatalf("the destination accepted %d connections, want 0", n)
	}
	if err := send(New(Options{DenyNetworks: mustParse(t, "127.0.0.2/32", "::ffff:127.0.1.0/120")}), dst.url("127.0.0.1")); err != nil {
		t.Errorf("127.0.0.1 outside the ranges: %v", err)
	}
}

// fakeResolver answers each lookup with the next of its answers (the last
// one repeats) and counts the lookups.
type fakeResolver struct {
	mu      sync.Mutex
	answers [][]netip.Addr
	calls   int
}

func (f *fakeResolver) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.answers[min(f.calls, len(f.answers)-1)]
	f.calls++
	return a, nil
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// withResolver returns a Dispatcher denying entries whose lookups f answers.
func withResolver(t *testing.T, f *fakeResolver, entries ...string) *Dispatcher {
	dp := New(Options{DenyNetworks: mustParse(t, entries...)})
	dp.dialer.lookup = f.lookup
	return dp
}

// TestEveryConnectionChecked: a name that rebinds to a denied address is
// refused on the next connection: no answer is cached, allowed or denied.
func TestEveryConnectionChecked(t *testing.T) {
	dst := startDestination(t, true)
	f := &fakeResolver{answers: [][]netip.Addr{addrs("127.0.0.1"), addrs("10.0.0.1"), addrs("127.0.0.1")}}
	dp := withResolver(t, f, "private")
	url := dst.url("hooks.example.com")
	if err := send(dp, url); err != nil {
		t.Fatal(err)
	}
	de := denied(t, send(dp, url))
	if de.Host != "hooks.example.com" || !reflect.DeepEqual(de.Addrs, addrs("10.0.0.1")) {
		t.Errorf("denied %s %v", de.Host, de.Addrs)
	}
	if err := send(dp, url); err != nil {
		t.Fatal(err)
	}
	if f.calls != 3 || dst.accepts.Load() != 2 {
		t.Errorf("%d lookups, %d connections; want 3 and 2", f.calls, dst.accepts.Load())
	}
}

// TestDenyFiltersAddresses: of a host's addresses only the allowed ones are
// dialed; when the first dialed fails the next is tried.
func TestDenyFiltersAddresses(t *testing.T) {
	dst := startDestination(t, true)
	t.Run("denied skipped", func(t *testing.T) {
		f := &fakeResolver{answers: [][]netip.Addr{addrs("10.0.0.1", "169.254.169.254", "127.0.0.1", "fd00::1")}}
		dp := withResolver(t, f, "private", "link_local")
		for range 4 { // every starting point of the rotation
			if err := send(dp, dst.url("mixed.example.com")); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("next tried", func(t *testing.T) {
		// Nothing listens on 127.0.0.2: refused at once.
		f := &fakeResolver{answers: [][]netip.Addr{addrs("127.0.0.2", "127.0.0.1")}}
		dp := withResolver(t, f, "private")
		for range 2 {
			if err := send(dp, dst.url("two.example.com")); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("all denied", func(t *testing.T) {
		f := &fakeResolver{answers: [][]netip.Addr{addrs("::ffff:127.0.0.1", "169.254.169.254")}}
		dp := withResolver(t, f, "all_internal")
		err := send(dp, dst.url("internal.example.com"))
		de := denied(t, err)
		if !reflect.DeepEqual(de.Addrs, addrs("127.0.0.1", "169.254.169.254")) ||
			!reflect.DeepEqual(de.Networks, prefixes("127.0.0.0/8", "169.254.0.0/16")) {
			t.Errorf("denied %v in %v", de.Addrs, de.Networks)
		}
		want := "internal.example.com resolves to 127.0.0.1 (in 127.0.0.0/8), 169.254.169.254 (in 169.254.0.0/16), which dispatch.deny_networks denies"
		if !strings.HasSuffix(err.Error(), want) {
			t.Errorf("message %q\ndoes not end in %q", err, want)
		}
	})
	t.Run("IPv6 only", func(t *testing.T) {
		// fasthttp's default dialer is IPv4 only; so is this one.
		f := &fakeResolver{answers: [][]netip.Addr{addrs("2001:db8::1")}}
		dp := withResolver(t, f, "private")
		err := send(dp, dst.url("v6.example.com"))
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeUnreachable || !errors.Is(err, errNoIPv4) {
			t.Errorf("Send = %v, want %s (no IPv4 address)", err, CodeUnreachable)
		}
	})
}

// TestDenyDialerErrors: resolving runs under the request's timeout, and
// failures map to the codes fasthttp's own dialer gives.
func TestDenyDialerErrors(t *testing.T) {
	dp := New(Options{DenyNetworks: mustParse(t, "private")})
	dp.dialer.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host == "slow.example.com" {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var resp Response
	start := time.Now()
	err := dp.Send(&Request{URL: "http://slow.example.com/", Timeout: 100 * time.Millisecond}, &resp)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeTimeout {
		t.Errorf("slow DNS: Send = %v, want %s", err, CodeTimeout)
	}
	if d := time.Since(start); d > patience {
		t.Errorf("slow DNS: Send took %s", d)
	}
	err = dp.Send(&Request{URL: "http://nx.example.com/", Timeout: patience}, &resp)
	if !errors.As(err, &e) || e.Code != CodeUnreachable || !strings.Contains(err.Error(), "no such host") {
		t.Errorf("unknown host: Send = %v, want %s", err, CodeUnreachable)
	}
}

// TestNoDenyListKeepsDefaultDialer: without a deny-list the client dials
// as before, with fasthttp's dialer and its DNS cache.
func TestNoDenyListKeepsDefaultDialer(t *testing.T) {
	for _, dp := range []*Dispatcher{New(Options{}), New(Options{DenyNetworks: []netip.Prefix{}})} {
		if dp.client.DialTimeout != nil || dp.client.Dial != nil || dp.dialer != nil {
			t.Error("a Dispatcher without a deny-list has a custom dialer")
		}
	}
}

// BenchmarkDial compares dialing a new connection with fasthttp's default
// dialer and with the deny-list on (every group), to an address and to a
// name (/etc/hosts; fasthttp caches its answer, the deny dialer does not).
func BenchmarkDial(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	deny, _ := ParseNetworks([]string{"link_local", "private", "unspecified", "::1", "127.0.0.2/32"})
	dialers := []struct {
		name string
		dial fasthttp.DialFuncWithTimeout
	}{
		{"default", fasthttp.DialTimeout},
		{"deny", newDenyDialer(deny, false).dial},
	}
	for _, d := range dialers {
		for _, host := range []string{"127.0.0.1", "localhost"} {
			b.Run(d.name+"/"+host, func(b *testing.B) {
				addr := net.JoinHostPort(host, port)
				for b.Loop() {
					c, err := d.dial(addr, time.Second)
					if err != nil {
						b.Fatal(err)
					}
					c.Close()
				}
			})
		}
	}
}

func BenchmarkDeniedBy(b *testing.B) {
	all := group(GroupAllInternal)
	a := netip.MustParseAddr("93.184.216.34") // allowed: every range is tried
	for b.Loop() {
		deniedBy(all, a)
	}
}
