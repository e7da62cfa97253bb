package wasm

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultCacheMaxSize caps the compilation cache directory when
// HostOptions.CacheMaxSize is zero.
const DefaultCacheMaxSize = 1 << 30

// staleTemp is the age past which a temporary file in the cache is a
// leftover of a process that died while writing it. wazero writes an entry
// to "<key>.<random>.tmp" and renames it into place right after compiling,
// within seconds: removing a younger one could fail another process's load.
const staleTemp = time.Hour

// diskCache keeps wazero's compilation cache directory under a size cap,
// least recently used entries first.
//
// wazero (v1.12) writes each compiled module to
// <dir>/wazero-<version>-<arch>-<os>/<hex key> through a temporary file and
// a rename, and never deletes one unless it is stale. A loaded module's
// machine code is copied into memory mapped for it (a cache hit reads the
// file into a fresh mapping), so deleting a file never affects a plugin that
// is running; on POSIX systems a process that has the file open keeps
// reading it after the unlink. A process that misses an entry another one
// deleted compiles again and writes it back. So the cache can be pruned at
// any time, by any of the processes sharing it; two pruning at once may
// delete a little more than needed, never something in use.
//
// Recency is the file's modification time: wazero sets it on writing, and
// the host touches the entry it loaded after each compilation (cache hit or
// not), so a file's mtime is its last use.
type diskCache struct {
	dir string
	max int64 // < 0: no cap
	log *slog.Logger

	mu sync.Mutex // one prune at a time in this process
}

// entry is one file of the cache.
type entry struct {
	path string
	size int64
	used time.Time
	temp bool
}

// isKey reports whether name is a wazero cache key: 64 hex digits.
func isKey(name string) bool {
	if len(name) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil
}

// entries lists the cache's files: entries and temporary files of every
// wazero version (those of other versions are never used again, so they are
// the first to go). Anything else in the directory is left alone.
func (c *diskCache) entries() ([]entry, error) {
	dirs, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, err
	}
	var out []entry
	for _, d := range dirs {
		if !d.IsDir() || !strings.HasPrefix(d.Name(), "wazero-") {
			continue
		}
		sub := filepath.Join(c.dir, d.Name())
		files, err := os.ReadDir(sub)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			name := f.Name()
			temp := strings.HasSuffix(name, ".tmp") && len(name) > 2*sha256.Size && isKey(name[:2*sha256.Size])
			if !f.Type().IsRegular() || !(temp || isKey(name)) {
				continue
			}
			info, err := f.Info()
			if err != nil {
				continue // deleted meanwhile
			}
			out = append(out, entry{path: filepath.Join(sub, name), size: info.Size(), used: info.ModTime(), temp: temp})
		}
	}
	return out, nil
}

// prune deletes the least recently used entries until the cache fits its
// cap, and temporary files abandoned for longer than staleTemp.
func (c *diskCache) prune() {
	if c.max < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	files, err := c.entries()
	if err != nil {
		c.log.Warn("wasm: listing the compilation cache", "dir", c.dir, "err", err)
		return
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	slices.SortFunc(files, func(a, b entry) int { return a.used.Compare(b.used) })
	now := time.Now()
	removed, freed := 0, int64(0)
	for _, f := range files {
		stale := f.temp && now.Sub(f.used) > staleTemp
		switch {
		case f.temp && !stale:
			continue // another load is writing it
		case total <= c.max && !stale:
			continue
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Debug("wasm: pruning the compilation cache", "file", f.path, "err", err)
			continue
		}
		total -= f.size
		removed++
		freed += f.size
	}
	if removed > 0 {
		c.log.Info("wasm: pruned the compilation cache", "dir", c.dir, "files", removed, "freed", freed, "size", total, "max", c.max)
	}
}

// touch marks the cache entry of a compiled module as used now. It finds the
// entry by recomputing wazero's key for the module (see cacheKeys); if none
// matches (a module wazero did not write, or another key scheme), recency
// falls back to the time the entry was written.
func (c *diskCache) touch(compiled []byte) {
	dirs, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	now := time.Now()
	for _, d := range dirs {
		if !d.IsDir() || !strings.HasPrefix(d.Name(), "wazero-") {
			continue
		}
		for _, k := range cacheKeys(compiled) {
			if os.Chtimes(filepath.Join(c.dir, d.Name(), k), now, now) == nil {
				return
			}
		}
	}
}

// cacheKeys returns the names wazero v1.12 may give the cache entry of a
// module compiled from bin (internal/engine/wazevo.fileCacheKey): the
// SHA-256 of the module's ID (the SHA-256 of bin and a 0 byte: no function
// listeners, no termination on context done), "WAZEVO" and the CPU feature
// flags it compiled for, 8 bytes little-endian. The flags take 3 bits on
// amd64 and 1 on arm64, so trying the 8 values finds the entry without
// wazero's internals. TestCacheKeyMatchesWazero locks the scheme in.
func cacheKeys(bin []byte) []string {
	h := sha256.New()
	h.Write(bin)
	h.Write([]byte{0})
	id := h.Sum(nil)
	keys := make([]string, 0, 8)
	for cpu := range uint64(8) {
		h.Reset()
		h.Write(id)
		h.Write([]byte("WAZEVO"))
		h.Write(binary.LittleEndian.AppendUint64(nil, cpu))
		keys = append(keys, hex.EncodeToString(h.Sum(nil)))
	}
	return keys
}
