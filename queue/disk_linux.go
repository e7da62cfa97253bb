package queue

import (
	"os"
	"syscall"
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
