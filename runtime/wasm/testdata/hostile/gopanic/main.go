// Command gopanic is a hostile fixture: a Go guest whose handler panics on every input except the literal
// "ok", which it echoes. The host's tests use it to check that an instance whose handler panicked is discarded
// and that a fresh instance of the same plugin still works.
//
// The SDK recovers the panic, logs "sluice: handler panicked: gopanic fixture: deliberate panic" at error level
// through sluice.log, and makes sluice_transform return 2 (plugin failure): no WebAssembly trap happens.
package main

import sluice "github.com/sluicehq/sluice/sdk/go"

func init() { sluice.Handle(handle) }

// main is required by package main but never runs: the host initializes the module through _initialize.
func main() {}

func handle(m *sluice.Message) ([]byte, error) {
	if string(m.Body) != "ok" {
		panic("gopanic fixture: deliberate panic")
	}
	return m.Body, nil
}
