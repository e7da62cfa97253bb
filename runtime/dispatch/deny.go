package dispatch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Network groups of dispatch.deny_networks.
const (
	// GroupLoopback: 127.0.0.0/8 and ::1, and the unspecified addresses
	// 0.0.0.0 and :: (a connection to them reaches the local host on Linux
	// and macOS).
	GroupLoopback = "loopback"
	// GroupMetadata: cloud instance metadata endpoints: 169.254.169.254
	// (AWS, GCP, Azure, Oracle, ...), fd00:ec2::254 (AWS over IPv6, inside
	// fc00::/7) and 100.100.100.200 (Alibaba Cloud, inside 100.64.0.0/10).
	GroupMetadata = "metadata"
	// GroupLinkLocal: 169.254.0.0/16 and fe80::/10, and GroupMetadata.
	GroupLinkLocal = "link_local"
	// GroupPrivate: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, the
	// carrier-grade NAT range 100.64.0.0/10 and IPv6 unique local
	// addresses fc00::/7.
	GroupPrivate = "private"
	// GroupUnspecified: 0.0.0.0/8 ("this network") and ::.
	GroupUnspecified = "unspecified"
	// GroupAllInternal: every group above.
	GroupAllInternal = "all_internal"
)

// groupNames lists the groups, for error messages.
const groupNames = "loopback, metadata, link_local, private, unspecified, all_internal"

// group returns the prefixes of a named group, nil if there is none.
func group(name string) []netip.Prefix {
	var cidrs []string
	switch name {
	case GroupLoopback:
		cidrs = []string{"127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128"}
	case GroupMetadata:
		cidrs = []string{"169.254.169.254/32", "fd00:ec2::254/128", "100.100.100.200/32"}
	case GroupLinkLocal:
		cidrs = []string{"169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32"}
	case GroupPrivate:
		cidrs = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"}
	case GroupUnspecified:
		cidrs = []string{"0.0.0.0/8", "::/128"}
	case GroupAllInternal:
		var all []netip.Prefix
		for _, g := range []string{GroupLoopback, GroupLinkLocal, GroupPrivate, GroupUnspecified} {
			all = append(all, group(g)...)
		}
		return all
	default:
		return nil
	}
	out := make([]netip.Prefix, len(cidrs))
	for i, c := range cidrs {
		out[i] = netip.MustParsePrefix(c)
	}
	return out
}

// NetworkError is a dispatch.deny_networks entry that ParseNetworks could
// not read.
type NetworkError struct {
	Index int    // in the list given to ParseNetworks
	Entry string // as given
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("entry %d (%q) is not a group (%s), a CIDR (10.0.0.0/8, fd00::/8) or an IP address",
		e.Index, e.Entry, groupNames)
}

// ParseNetworks reads the entries of dispatch.deny_networks: group names
// (see the Group constants), CIDRs ("10.0.0.0/8", "fd00::/8"; host bits are
// dropped) and single addresses ("169.254.169.254"). Addresses are checked
// in their IPv4 form when they are IPv4-mapped (::ffff:127.0.0.1 is
// 127.0.0.1), so an IPv4-mapped entry (::ffff:10.0.0.0/104) is turned into
// its IPv4 prefix (10.0.0.0/8). The error is a *NetworkError naming the
// first bad entry.
func ParseNetworks(entries []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, e := range entries {
		s := strings.TrimSpace(e)
		if g := group(s); g != nil {
			out = append(out, g...)
			continue
		}
		p, ok := parsePrefix(s)
		if !ok {
			return nil, &NetworkError{Index: i, Entry: e}
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, bool) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, false
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return p, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

// deniedBy returns the range of list that a is in.
func deniedBy(list []netip.Prefix, a netip.Addr) (netip.Prefix, bool) {
	// Prefix.Contains never matches an address with a zone, nor an
	// IPv4-mapped address against an IPv4 prefix.
	a = a.Unmap().WithZone("")
	for _, p := range list {
		if p.Contains(a) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// DeniedError is a host whose every address is in a denied range.
type DeniedError struct {
	Host     string         // as in the URL
	Addrs    []netip.Addr   // what Host resolved to
	Networks []netip.Prefix // Networks[i]: the denied range Addrs[i] is in
}

func (e *DeniedError) Error() string {
	var b strings.Builder
	if len(e.Addrs) == 1 && e.Addrs[0].String() == e.Host {
		fmt.Fprintf(&b, "%s is in %s", e.Host, e.Networks[0])
	} else {
		fmt.Fprintf(&b, "%s resolves to ", e.Host)
		for i, a := range e.Addrs {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s (in %s)", a, e.Networks[i])
		}
	}
	b.WriteString(", which dispatch.deny_networks denies")
	return b.String()
}

// denyDialer is a fasthttp.DialFuncWithTimeout that resolves the host at
// every dial (no DNS cache: a cached answer would not be checked again) and
// connects only to addresses outside the denied ranges, to the very address
// it checked.
type denyDialer struct {
	deny      []netip.Prefix
	dualStack bool // false: IPv4 only, as fasthttp's default dialer
	lookup    func(ctx context.Context, host string) ([]netip.Addr, error)
	next      atomic.Uint32 // spreads new connections over a host's addresses
}

func newDenyDialer(deny []netip.Prefix, dualStack bool) *denyDialer {
	return &denyDialer{
		deny:      append([]netip.Prefix(nil), deny...),
		dualStack: dualStack,
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
	}
}

var errNoIPv4 = errors.New("dispatch: the host has no IPv4 address (IPv6 destinations are not dialed)")

// dial connects to addr (host:port). timeout bounds resolving and
// connecting together (0: fasthttp.DefaultDialTimeout); running out of it
// is a fasthttp.ErrDialTimeout, as with fasthttp's dialer.
func (d *denyDialer) dial(addr string, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 {
		timeout = fasthttp.DefaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: bad port: %w", addr, err)
	}
	ips, err := d.lookup(ctx, host)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("resolving %s: %w", host, fasthttp.ErrDialTimeout)
		}
		return nil, err
	}
	allowed := make([]netip.Addr, 0, len(ips))
	var denied *DeniedError
	for _, ip := range ips {
		if p, ok := deniedBy(d.deny, ip); ok {
			if denied == nil {
				denied = &DeniedError{Host: host}
			}
			denied.Addrs = append(denied.Addrs, ip.Unmap())
			denied.Networks = append(denied.Networks, p)
			continue
		}
		if ip = ip.Unmap(); ip.Is4() || d.dualStack {
			allowed = append(allowed, ip)
		}
	}
	if len(allowed) == 0 {
		if denied != nil {
			return nil, denied
		}
		return nil, fmt.Errorf("dialing %s: %w", host, errNoIPv4)
	}
	network := "tcp4"
	if d.dualStack {
		network = "tcp"
	}
	// Like fasthttp's dialer: start at the next address in turn, try the
	// others on failure, stop when the time is up.
	var dialer net.Dialer
	start, n := d.next.Add(1), uint32(len(allowed)) // #nosec G115 -- the addresses one host name resolves to
	for i := range n {
		ap := netip.AddrPortFrom(allowed[(start+i)%n], uint16(port))
		conn, cerr := dialer.DialContext(ctx, network, ap.String())
		if cerr == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dialing %s: %w", ap, fasthttp.ErrDialTimeout)
		}
		err = fmt.Errorf("dialing %s: %w", ap, cerr)
	}
	return nil, err
}
