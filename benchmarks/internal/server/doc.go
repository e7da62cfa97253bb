// Package server starts, watches and stops the server processes a benchmark
// runs against, and renders the Sluice configuration file they are started
// with.
//
// Every server is a child process in its own process group, so a Ctrl-C in
// the terminal reaches only the harness, which then stops the children in
// order (SIGTERM, a grace period, then SIGKILL to the whole group). Children
// also get SIGKILL from the kernel if the harness dies without cleaning up
// (Linux parent-death signal). Output of each child goes to a log file whose
// tail is shown when the child fails.
//
// A Process is safe for concurrent use.
package server
