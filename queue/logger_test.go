package queue

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a log destination Badger's goroutines may write to at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBadgerLogsThroughLogger: Badger's own log lines reach Options.Logger
// (marked component=badger, its information at debug level), never its
// default logger, which writes "WARNING: ..." to stderr past Sluice's.
func TestBadgerLogsThroughLogger(t *testing.T) {
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	l := openTest(t, dir, Options{Logger: log})
	if got, ok := l.db.Opts().Logger.(badgerLogger); !ok || got.l != log {
		t.Fatalf("Badger logs through %T, not Sluice's logger", l.db.Opts().Logger)
	}
	if err := l.Append(msg(1, "")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Open again: Badger replays its files and says so at debug level.
	l = openTest(t, dir, Options{Logger: log})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	badgerLines := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " level=") || !strings.Contains(line, " msg=") {
			t.Errorf("not a key=value line of Sluice's logger: %q", line)
		}
		if strings.Contains(line, "component=badger") {
			badgerLines++
			if !strings.Contains(line, "level=DEBUG") {
				t.Errorf("Badger's information is logged at debug level, not: %q", line)
			}
		}
	}
	if badgerLines == 0 {
		t.Fatalf("no line of Badger's reached the logger:\n%s", out.String())
	}

	// Its warnings and errors keep their level; nothing empty is logged.
	out.mu.Lock()
	out.b.Reset()
	out.mu.Unlock()
	bl := badgerLogger{slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	bl.Warningf("%s might be too small. Metrics: %s\n", "Block cache", "hit: 1 miss: 9")
	bl.Errorf("while compacting: %v", "boom")
	bl.Infof("\n")
	bl.Infof("Set nextTxnTs to %d", 3)
	want := []string{`level=WARN msg="Block cache might be too small. Metrics: hit: 1 miss: 9" component=badger`,
		`level=ERROR msg="while compacting: boom" component=badger`}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("at warn level: %d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) {
			t.Errorf("line %d: %q, want it to end with %q", i, lines[i], w)
		}
	}
}
