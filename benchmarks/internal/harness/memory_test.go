package harness

import (
	"os"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/benchmarks/internal/procstat"
)

// waitFor polls cond every millisecond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// The sampler keeps a burst of anonymous memory that is gone again by the
// time it stops: the peak comes from a sample taken between the edges.
func TestMemorySamplerKeepsPeak(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	anon := func() uint64 {
		m, err := procstat.ReadMemory(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		return m.AnonKiB
	}
	debug.FreeOSMemory()
	base := anon()
	if base == 0 {
		t.Skip("kernel does not report RssAnon")
	}
	s := startMemorySampler(os.Getpid(), 2*time.Millisecond)
	// The burst is an anonymous mapping outside the Go heap, so that it
	// leaves at once when unmapped (no GC, no race-detector shadow).
	const burst = 128 << 20
	b, err := syscall.Mmap(-1, 0, burst, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	waitFor(t, "the burst to be resident", func() bool { return anon() >= base+burst>>10*3/4 })
	n := s.samples.Load()
	waitFor(t, "two samples during the burst", func() bool { return s.samples.Load() >= n+2 })
	if err := syscall.Munmap(b); err != nil {
		t.Fatal(err)
	}
	if now := anon(); now >= base+burst>>10/4 {
		t.Fatalf("RssAnon %d KiB after unmapping the burst (base %d KiB)", now, base)
	}
	m, err := s.stop()
	if err != nil {
		t.Fatal(err)
	}
	if m.AnonKiB < base+burst>>10*3/4 {
		t.Errorf("RssAnon peak %d KiB, want ≥ %d KiB (base %d KiB + 3/4 of a %d KiB burst)", m.AnonKiB, base+burst>>10*3/4, base, burst>>10)
	}
	if m.RSSKiB == 0 || m.FileKiB == 0 {
		t.Errorf("stop returned %+v: want the last sample's RSS and a RssFile peak", m)
	}
	if again, err2 := s.stop(); again != m || err2 != nil {
		t.Errorf("second stop = %+v, %v; want %+v, nil", again, err2, m)
	}
}

func TestMemorySamplerReportsDeadProcess(t *testing.T) {
	s := startMemorySampler(1<<30, time.Millisecond) // no such pid
	if _, err := s.stop(); err == nil {
		t.Error("want an error for a process that does not exist")
	}
}
