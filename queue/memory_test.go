package queue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSplitMemory(t *testing.T) {
	for _, c := range []struct {
		budget   int64
		memTable int64
		n        int
	}{
		{0, 64 << 20, 4},                  // the default, 1 GiB
		{256 << 20, 16 << 20, 4},          // six arenas of 20.8 MiB within 128 MiB
		{MinMemory, 1 << 20, 4},           // 8 MiB for Badger: 1 MiB memtables
		{64 << 20, 4 << 20, 4},            // 32 MiB: 6 × 5.2 MiB
		{1 << 30, 64 << 20, 4},            // 512 MiB: 6 × 83.2 MiB
		{8 << 30, 64 << 20, maxMemTables}, // never more than Badger's defaults
	} {
		s, err := SplitMemory(c.budget)
		if err != nil {
			t.Fatalf("%d: %v", c.budget, err)
		}
		if s.MemTable != c.memTable || s.NumMemtables != c.n || s.BlockCache != 0 || s.IndexCache != 0 {
			t.Errorf("SplitMemory(%s) = %+v; want memtable %s × %d, caches off", byteCount(c.budget), s, byteCount(c.memTable), c.n)
		}
	}
	// Every budget from the minimum up: the memtables' worst case stays in
	// the half not given to the backlog, the memtable is a power of two
	// between 1 and 64 MiB, and a bigger budget never gets less.
	var last MemorySplit
	for b := int64(MinMemory); b <= 4<<30; b += 3 << 20 {
		s, err := SplitMemory(b)
		if err != nil {
			t.Fatal(err)
		}
		if s.Backlog+s.Badger() > b || s.Backlog != b/2 {
			t.Fatalf("SplitMemory(%d) = %+v: backlog %d + memtables %d exceed the budget", b, s, s.Backlog, s.Badger())
		}
		if s.MemTable&(s.MemTable-1) != 0 || s.MemTable < minMemTable || s.MemTable > defaultMemTable || s.NumMemtables < 1 {
			t.Fatalf("SplitMemory(%d) = %+v", b, s)
		}
		if s.Badger() < last.Badger() {
			t.Fatalf("SplitMemory(%d) gives Badger %d, less than %d for a smaller budget", b, s.Badger(), last.Badger())
		}
		last = s
	}
	for _, b := range []int64{1, MinMemory - 1} {
		if _, err := SplitMemory(b); err == nil || !strings.Contains(err.Error(), "16.0 MiB") {
			t.Errorf("SplitMemory(%d) = %v; want an error naming the minimum", b, err)
		}
	}
}

// Open gives Badger the budget's memtables and no caches, and refuses a
// budget under the minimum before it creates anything.
func TestOpenHonoursMemory(t *testing.T) {
	for _, budget := range []int64{0, 64 << 20, 1 << 30} {
		s, _ := SplitMemory(budget)
		l := openTest(t, t.TempDir(), Options{Memory: budget})
		o := l.db.Opts()
		l.Close()
		if o.MemTableSize != s.MemTable || o.NumMemtables != s.NumMemtables || o.BlockCacheSize != 0 || o.IndexCacheSize != 0 {
			t.Errorf("memory %d: Badger has memtable %d × %d, block cache %d, index cache %d; want %+v",
				budget, o.MemTableSize, o.NumMemtables, o.BlockCacheSize, o.IndexCacheSize, s)
		}
	}
	dir := t.TempDir() + "/log"
	if l, err := Open(Options{Dir: dir, Memory: 1 << 20}); err == nil {
		l.Close()
		t.Fatal("Open accepted a 1 MiB budget")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Open with a bad budget created %s (%v)", dir, err)
	}
}

// BenchmarkMemoryBudget is 64 appenders of 1 KiB bodies with one completer,
// reporting the process's peak RssAnon. Run each case in its own process
// (RATIONALE.md, "Memory budget"):
//
//	go test -run '^$' -bench 'MemoryBudget/memory=256MiB' -benchtime 400000x ./queue/
func BenchmarkMemoryBudget(b *testing.B) {
	for _, c := range []struct {
		name   string
		budget int64
	}{{"memory=256MiB", 256 << 20}, {"memory=1200MiB", 1200 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			split, _ := SplitMemory(c.budget)
			l, err := Open(Options{Dir: b.TempDir(), Durability: DurabilityFsync, Memory: c.budget,
				Limits: Limits{Bytes: split.Backlog}, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var peak atomic.Int64
			go func() {
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for {
					if v := rssAnon(); v > peak.Load() {
						peak.Store(v)
					}
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
				}
			}()
			go func() {
				for {
					m, err := l.Next(ctx)
					if err != nil {
						return
					}
					l.Complete(m, &Record{Status: StatusSucceeded, Payload: m.Body[:64]}, nil)
				}
			}()
			body := bytes.Repeat([]byte("x"), 1024)
			b.SetParallelism(32) // × GOMAXPROCS(2) = 64 appenders
			b.SetBytes(1024)
			b.ResetTimer()
			var n, full atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m := &Message{Route: "r", Received: time.Now(), Body: body}
					binary.BigEndian.PutUint64(m.ID[8:], n.Add(1))
					binary.BigEndian.PutUint64(m.ID[:8], uint64(time.Now().UnixNano()))
					for {
						err := l.Append(m)
						if err == nil {
							break
						}
						if !errors.Is(err, ErrBacklogFull) {
							b.Fatal(err)
						}
						full.Add(1)
						time.Sleep(time.Millisecond) // the 503's Retry-After, shortened
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(full.Load()), "backlog-full")
			if v := rssAnon(); v > peak.Load() {
				peak.Store(v)
			}
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-RssAnon-MiB")
			b.ReportMetric(float64(l.Stats().Appends)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// rssAnon is the process's RssAnon in bytes (0 where /proc is missing).
func rssAnon() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
