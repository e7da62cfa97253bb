package queue

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// freeBytes is the space available to an unprivileged user on dir's file
// system, and the file system's size.
func freeBytes(dir string) (free, total int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return int64(st.Bavail) * st.Bsize, int64(st.Blocks) * st.Bsize, nil
}

// allocated is the space a file takes on its file system: the blocks
// allocated to it, which for a sparse file is less than its size.
func allocated(path string) (int64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Blocks * 512, nil
}

// fdatasync flushes f's data (and the size, not the times) to the disk.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// dropCache asks the kernel to drop the page cache of f's bytes [from,
// to): written and synced, they are read again only by a recovery or a
// result's lookup. Only whole pages go (a partial last page stays for the
// next append), so that pages are recycled for the next writes instead of
// new ones being taken while the old ones sit in the cache.
func dropCache(f *os.File, from, to int64) {
	_ = unix.Fadvise(int(f.Fd()), from, to-from, unix.FADV_DONTNEED) // #nosec G104 G115 -- advice: nothing depends on it; a file descriptor
}

// preallocate gives f its blocks and a size of n bytes (fallocate).
func preallocate(f *os.File, n int64) error { return unix.Fallocate(int(f.Fd()), 0, 0, n) }
