//go:build !linux

package queue

import (
	"errors"
	"os"
)

// freeBytes is not implemented here: the log does not guard its disk.
func freeBytes(string) (free, total int64, err error) { return 0, 0, errors.ErrUnsupported }

// allocated is the file's size (sparse files count in full).
func allocated(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// fdatasync is an fsync where fdatasync is not available.
func fdatasync(f *os.File) error { return f.Sync() }

// dropCache does nothing here.
func dropCache(*os.File, int64, int64) {}

// preallocate does nothing here: the file grows as it is written.
func preallocate(*os.File, int64) error { return nil }
