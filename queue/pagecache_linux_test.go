package queue

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident reports, page by page, whether path's pages are in the page
// cache (mincore on a read-only mapping, which faults nothing in).
func resident(t *testing.T, path string) []bool {
	t.Helper()
	f, err := os.Open(path) // #nosec G304 -- a test's temp file
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(data)
	vec := make([]byte, (len(data)+int(pageSize)-1)/int(pageSize))
	// #nosec G103 -- mincore(2) takes the mapping's address and the vector
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)),
		uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	out := make([]bool, len(vec))
	for i, v := range vec {
		out[i] = v&1 != 0
	}
	return out
}

// Synced frames leave the page cache, all but the partial last page that
// the next append writes into; a result that refers to a body in a dropped
// page still reads it back whole (from the disk).
func TestSyncedFramesLeaveThePageCache(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		t.Skip("the temp dir is on tmpfs, whose pages cannot leave the page cache: set TMPDIR to a disk to run this test")
	}
	l := openTest(t, dir, Options{})
	defer l.Close()
	m := bodyMsg(1, 5*int(pageSize)+100)
	payload := completeEcho(t, l, m, true)
	for i := 2; i < 6; i++ {
		if err := l.Append(bodyMsg(i, 3000)); err != nil {
			t.Fatal(err)
		}
	}
	ns := segmentFiles(t, dir)
	if len(ns) != 1 {
		t.Fatalf("segments %v", ns)
	}
	path := segmentPath(filepath.Join(dir, segmentDir), ns[0])
	pages := resident(t, path)
	// The file is preallocated: its frames end at its last byte that is
	// not zero (read after mincore, which the read changes).
	data, err := os.ReadFile(path) // #nosec G304 -- the test's own file
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.LastIndexFunc(data, func(r rune) bool { return r != 0 }) + 1
	written := (end + int(pageSize) - 1) / int(pageSize)
	if written < 7 {
		t.Fatalf("frames of %d pages", written)
	}
	for i, in := range pages[:written-1] {
		if in {
			t.Errorf("page %d of %d is still cached after its sync", i, written)
		}
	}
	rec, err := l.Lookup(m.ID)
	if err != nil || !bytes.Equal(rec.Payload, payload) {
		t.Fatalf("lookup: %d bytes, %v; want %d", len(rec.Payload), err, len(payload))
	}
}
