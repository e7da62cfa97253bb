// Command order-to-invoice is the reference plugin (../SPEC.md) written with
// the Go SDK: it turns a JSON order into the invoice shape of an ERP.
package main

import sluice "github.com/sluicehq/sluice/sdk/go"

func init() { sluice.Handle(handle) }

func main() {}

var out []byte // reused between messages

func handle(m *sluice.Message) ([]byte, error) {
	var reason string
	out, reason = convert(m.Body, out[:0])
	if reason != "" {
		return nil, sluice.Reject(reason)
	}
	m.SetContentType("application/json")
	return out, nil
}
