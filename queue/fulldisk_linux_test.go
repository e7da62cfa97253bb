package queue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A full disk kills a process that writes to it through Badger's mmap'd
// files (SIGBUS), and a signal kills the whole test binary. So the parts
// that could crash run in a child: this test binary again, with
// fullDiskEnv naming what to do (TestMain), and a crash there is a failed
// test that shows the child's output.
const fullDiskEnv = "SLUICE_QUEUE_FULL_DISK"

func TestMain(m *testing.M) {
	if phase := os.Getenv(fullDiskEnv); phase != "" {
		os.Exit(fullDiskChild(phase))
	}
	os.Exit(m.Run())
}

// childResult is what a child reports on its last line of stdout.
type childResult struct {
	Acked     int    `json:"acked"`     // appends that returned nil
	Refused   int    `json:"refused"`   // appenders stopped by ErrDiskFull
	Recovered int    `json:"recovered"` // messages found after the reopen
	Missing   int    `json:"missing"`   // acknowledged ids not found
	Extra     int    `json:"extra"`     // ids found that were never acknowledged
	Drained   bool   `json:"drained"`   // appends accepted again after completing the backlog
	Err       string `json:"err"`       // the first unexpected error
	CloseErr  string `json:"close_err"` // Close's error (a full disk may refuse to close; it must not crash)
	Stats     Stats  `json:"stats"`
}

// runChild runs a phase in a child process and returns its result; a child
// that dies (SIGBUS) or exits non-zero fails the test with its output.
func runChild(t *testing.T, phase string, env ...string) childResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), fullDiskEnv+"="+phase), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	logs := stderr.String()
	if i := strings.Index(logs, "fatal error"); i >= 0 { // a crash: its signal and the faulting goroutine
		logs = logs[i:min(len(logs), i+6000)] + "…"
	} else if len(logs) > 8000 {
		logs = "…" + logs[len(logs)-8000:]
	}
	if err != nil {
		t.Fatalf("child %s: %v (a full disk must be an error, never a crash)\nstdout:\n%s\nstderr:\n%s", phase, err, stdout.String(), logs)
	}
	var res childResult
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("child %s: unreadable result: %v\nstdout:\n%s\nstderr:\n%s", phase, err, stdout.String(), logs)
	}
	t.Logf("child %s: %+v", phase, res)
	if res.Err != "" {
		t.Fatalf("child %s: %s\nstderr:\n%s", phase, res.Err, logs)
	}
	return res
}

// mountTmpfs mounts a tmpfs of size bytes in a new temporary directory and
// unmounts it when the test ends; it skips the test where mounting is not
// permitted (not root).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("cannot mount a tmpfs to fill (%v): run as root, as CI does", err)
		}
		t.Fatalf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// A full disk is an error, never a crash: 16 appenders fill a 64 MiB tmpfs
// until the log refuses them with ErrDiskFull; every acknowledged append is
// there after Close and a reopen on the still-full disk, which starts (or
// soon goes) into drain mode; completing the backlog frees the space and
// appends are accepted again. Bodies of 8 KiB stay in the LSM tree; 256 KiB
// and 2 MiB go to the value log on a disk this small.
func TestFullDiskTmpfs(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a tmpfs in a child process")
	}
	for _, size := range []int{8 << 10, 256 << 10, 2 << 20} {
		t.Run(fmt.Sprintf("%dKiB", size>>10), func(t *testing.T) {
			mnt := mountTmpfs(t, 64<<20)
			env := []string{"FULL_DISK_DIR=" + filepath.Join(mnt, "log"), "FULL_DISK_BODY=" + strconv.Itoa(size),
				"FULL_DISK_IDS=" + filepath.Join(t.TempDir(), "acked")}
			fill := runChild(t, "fill", env...)
			if fill.Refused == 0 || fill.Acked == 0 {
				t.Fatalf("fill: %d acknowledged, %d appenders refused; want the disk filled up to ErrDiskFull", fill.Acked, fill.Refused)
			}
			reopen := runChild(t, "reopen", env...)
			if reopen.Missing != 0 || reopen.Extra != 0 || reopen.Recovered != fill.Acked {
				t.Fatalf("after the reopen: %d recovered of %d acknowledged (%d missing, %d never acknowledged)",
					reopen.Recovered, fill.Acked, reopen.Missing, reopen.Extra)
			}
			if !reopen.Drained {
				t.Fatal("completing the backlog did not bring appends back")
			}
			if reopen.CloseErr != "" {
				t.Fatalf("close after draining: %s", reopen.CloseErr)
			}
		})
	}
}

// Close on a disk without room for the memtable's table fails with
// ErrDiskFull instead of crashing in Badger's flush, and what the WAL holds
// is there at the next start.
func TestCloseWithoutRoomKeepsTheWAL(t *testing.T) {
	if testing.Short() {
		t.Skip("leaves Badger open in a child process")
	}
	dir := t.TempDir()
	ids := filepath.Join(t.TempDir(), "acked")
	res := runChild(t, "close-full", "FULL_DISK_DIR="+dir, "FULL_DISK_IDS="+ids)
	if !strings.Contains(res.CloseErr, "disk") || res.Acked == 0 {
		t.Fatalf("close with no room: %q after %d appends; want a disk-full error", res.CloseErr, res.Acked)
	}
	acked := readIDs(t, ids)
	l := openTest(t, dir, Options{})
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range len(acked) {
		m, err := l.Next(ctx)
		if err != nil {
			t.Fatalf("recovering: %v", err)
		}
		if !acked[m.ID] {
			t.Fatalf("recovered %x, never acknowledged", m.ID)
		}
		delete(acked, m.ID)
	}
	if len(acked) != 0 {
		t.Fatalf("%d acknowledged messages lost", len(acked))
	}
}

func readIDs(t *testing.T, path string) map[ID]bool {
	t.Helper()
	ids, err := loadIDs(path)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func loadIDs(path string) (map[ID]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids := map[ID]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var id ID
		if _, err := hex.Decode(id[:], sc.Bytes()); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, sc.Err()
}

func saveIDs(path string, ids []ID) error {
	var b bytes.Buffer
	for _, id := range ids {
		b.WriteString(hex.EncodeToString(id[:]))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

// fullDiskChild runs one phase and prints its result as JSON; it returns
// the exit code.
func fullDiskChild(phase string) int {
	var res childResult
	var err error
	dir, idsPath := os.Getenv("FULL_DISK_DIR"), os.Getenv("FULL_DISK_IDS")
	body, _ := strconv.Atoi(os.Getenv("FULL_DISK_BODY"))
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	switch phase {
	case "fill":
		err = childFill(&res, dir, idsPath, body, logger)
	case "reopen":
		err = childReopen(&res, dir, idsPath, body, logger)
	case "close-full":
		err = childCloseFull(&res, dir, idsPath, logger)
	default:
		err = fmt.Errorf("unknown phase %q", phase)
	}
	if err != nil {
		res.Err = err.Error()
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return 0
}

// appendUntilFull runs 16 appenders of body-byte messages until each gets
// ErrDiskFull (or max appends were made in all), and returns the ids
// acknowledged.
func appendUntilFull(l *Log, body, max int, next *atomic.Uint64) (acked []ID, refused int, err error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	b := bytes.Repeat([]byte("b"), body)
	var made atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for made.Add(1) <= int64(max) {
				m := &Message{Route: "r", Received: time.Now().UTC(), Body: b}
				binary.BigEndian.PutUint64(m.ID[:8], uint64(time.Now().UnixNano()))
				binary.BigEndian.PutUint64(m.ID[8:], next.Add(1))
				err := l.Append(m)
				mu.Lock()
				switch {
				case err == nil:
					acked = append(acked, m.ID)
				case errors.Is(err, ErrDiskFull):
					refused++
				case firstErr == nil:
					firstErr = fmt.Errorf("append: %w", err)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return acked, refused, firstErr
}

func childFill(res *childResult, dir, idsPath string, body int, logger *slog.Logger) error {
	l, err := Open(Options{Dir: dir, MinFreeBytes: AutoMinFree, Logger: logger})
	if err != nil {
		return err
	}
	var next atomic.Uint64
	acked, refused, err := appendUntilFull(l, body, 1<<20, &next)
	res.Acked, res.Refused, res.Stats = len(acked), refused, l.Stats()
	if serr := saveIDs(idsPath, acked); err == nil {
		err = serr
	}
	if cerr := l.Close(); cerr != nil {
		res.CloseErr = cerr.Error()
	}
	return err
}

func childReopen(res *childResult, dir, idsPath string, body int, logger *slog.Logger) error {
	acked, err := loadIDs(idsPath)
	if err != nil {
		return err
	}
	l, err := Open(Options{Dir: dir, MinFreeBytes: AutoMinFree, Logger: logger})
	if err != nil {
		return fmt.Errorf("reopening on the full disk: %w", err)
	}
	defer func() {
		if cerr := l.Close(); cerr != nil {
			res.CloseErr = cerr.Error()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Everything acknowledged is back, and nothing else.
	var claimed []*Message
	for n := l.Stats().Backlog; len(claimed) < n; {
		m, err := l.Next(ctx)
		if err != nil {
			return fmt.Errorf("recovering message %d of %d: %w", len(claimed)+1, n, err)
		}
		claimed = append(claimed, m)
		if acked[m.ID] {
			res.Recovered++
		} else {
			res.Extra++
		}
	}
	res.Missing = len(acked) - res.Recovered
	// Still full: the log is in drain mode, or gets there within a few
	// appends (the line moves down once the WAL was flushed at Close, and
	// again whenever a flush empties a WAL).
	var next atomic.Uint64
	next.Store(1 << 40)
	for tries := 0; l.Ready() == nil; tries++ {
		if tries == 20 {
			return fmt.Errorf("reopened on a full disk: never in drain mode; stats %+v", l.Stats())
		}
		more, _, err := appendUntilFull(l, body, 1<<20, &next)
		if err != nil {
			return err
		}
		for range more {
			m, err := l.Next(ctx)
			if err != nil {
				return fmt.Errorf("claiming a message appended after the reopen: %w", err)
			}
			claimed = append(claimed, m)
		}
	}
	// Drain: outcomes are written, the space comes back, appends resume.
	var failed atomic.Int64
	var wg sync.WaitGroup
	for _, m := range claimed {
		wg.Add(1)
		err := l.Complete(m, &Record{Status: StatusSucceeded, Payload: []byte("ok")}, func(err error) {
			if err != nil {
				failed.Add(1)
			}
			wg.Done()
		})
		if err != nil {
			return fmt.Errorf("completing: %w", err)
		}
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d outcomes failed to be written", n)
	}
	for l.Ready() != nil || l.Stats().DiskFree < 32<<20 {
		if ctx.Err() != nil {
			return fmt.Errorf("after draining the backlog: Ready %v, stats %+v; want the space back", l.Ready(), l.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	more, refused, err := appendUntilFull(l, body, 16, &next)
	if err != nil || len(more) != 16 || refused != 0 {
		return fmt.Errorf("appends after draining: %d of 16 accepted, %d refused, %v", len(more), refused, err)
	}
	res.Drained, res.Stats = true, l.Stats()
	return nil
}

// childCloseFull appends, then closes the log on a (stubbed) file system
// that has no room left for the memtable's table.
func childCloseFull(res *childResult, dir, idsPath string, logger *slog.Logger) error {
	var full atomic.Bool
	stub := func(dir string) (int64, int64, error) {
		free, total, err := freeBytes(dir)
		if full.Load() {
			free = 0
		}
		return free, total, err
	}
	l, err := Open(Options{Dir: dir, MinFreeBytes: AutoMinFree, Logger: logger, freeBytes: stub})
	if err != nil {
		return err
	}
	var next atomic.Uint64
	acked, _, err := appendUntilFull(l, 1<<10, 500, &next)
	if err != nil {
		return err
	}
	res.Acked = len(acked)
	if err := saveIDs(idsPath, acked); err != nil {
		return err
	}
	full.Store(true)
	if err := l.Close(); err != nil {
		if !errors.Is(err, ErrDiskFull) {
			return fmt.Errorf("close: %w, want ErrDiskFull", err)
		}
		res.CloseErr = err.Error()
	}
	return nil
}
