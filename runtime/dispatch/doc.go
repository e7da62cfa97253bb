// Package dispatch delivers a transformed message to its destination over
// HTTP (fasthttp client). It is the last stage of the data path before the
// result store and imports only fasthttp. A Dispatcher is safe for concurrent
// use; connections are pooled per destination host.
//
// Options.DenyNetworks refuses destinations by address: every new connection
// resolves the host itself, drops the addresses in a denied range and
// connects to one of the addresses it kept, so a name that resolves (or
// rebinds) to a loopback, link-local or private address is refused with
// CodeDenied before any connection is made. Without a deny-list the client
// dials exactly as fasthttp does by default (tcp4, DNS cached for a minute).
package dispatch
