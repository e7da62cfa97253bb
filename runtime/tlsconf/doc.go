// Package tlsconf serves Sluice's listeners over TLS from a certificate and
// key in PEM files, and swaps in a renewed pair without restarting or
// dropping a connection.
//
// It sits beside the data path, not on it: cmd/sluice builds one Reloader
// per listener (tls for the ingress, admin_tls for the admin API) and hands
// Config() to the server, fasthttp or net/http alike. Every handshake asks
// GetCertificate for the pair, which reads one atomic pointer; Reload and
// Watch replace that pointer only with a pair that parsed and matched, so a
// half-written or broken renewal is logged and the previous certificate goes
// on being served. Connections already open keep the certificate they were
// made with: TLS never looks at it again after the handshake.
//
// A Reloader is safe for concurrent use: handshakes, Reload (SIGHUP) and
// Watch (a polling goroutine) may run at once; loading is serialised.
package tlsconf
