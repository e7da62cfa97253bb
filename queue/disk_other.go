//go:build !linux

package queue

import "errors"

// freeBytes is not implemented here: the log does not guard its disk.
func freeBytes(string) (free, total int64, err error) { return 0, 0, errors.ErrUnsupported }
