//go:build !race

// The race detector's instrumentation allocates on its own and sync.Pool
// drops items at random under it, so these exact counts hold only without
// it: this file is not built under -race.

package verify

import (
	"testing"
)

// TestVerifyAllocs locks a steady-state Verify at zero allocations for
// every scheme: HMAC states come from per-secret pools, received signatures
// are decoded into stack buffers, and the DeliveryID is borrowed from the
// header or the body rather than copied into a string (the one allocation
// a string would cost per request).
func TestVerifyAllocs(t *testing.T) {
	for _, hc := range hotCases(t) {
		t.Run(hc.name, func(t *testing.T) {
			body := hc.req.Body()
			allocs := testing.AllocsPerRun(1000, func() {
				if _, err := hc.v.Verify(&hc.req.Header, body, now); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("Verify: %v allocs per run, want 0", allocs)
			}
		})
	}
}

// TestRejectAllocs locks the rejection of a forged request (well-formed,
// wrong signature or key) at zero allocations too: its errors are built
// once, so a flood of forgeries costs the HMACs and nothing for the
// collector. (Timestamp errors, which carry numbers, do allocate.)
func TestRejectAllocs(t *testing.T) {
	for _, hc := range hotCases(t) {
		t.Run(hc.name, func(t *testing.T) {
			forged := append([]byte(nil), hc.req.Body()...)
			forged[len(forged)-3] ^= 1
			if hc.name == "api_key" {
				hc.req.Header.Set("Authorization", "Bearer sk_partner_wrong_0003")
			}
			allocs := testing.AllocsPerRun(1000, func() {
				if _, err := hc.v.Verify(&hc.req.Header, forged, now); err == nil {
					t.Fatal("forged request accepted")
				}
			})
			if allocs != 0 {
				t.Fatalf("Verify of a forgery: %v allocs per run, want 0", allocs)
			}
		})
	}
}
