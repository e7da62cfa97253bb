package queue

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Memory budget: Options.Memory is the anonymous memory the log may hold,
// split by SplitMemory between the backlog (the messages the scheduler
// keeps in memory, bodies included) and Badger's memtables.
//
// What Badger holds in anonymous memory, read from badger v4's source:
//   - memtables: each is an arena allocated up front (skl.newArena, a Go
//     slice) of MemTableSize plus 15% for a batch plus one node per entry
//     of such a batch, about 1.3 × MemTableSize. Besides the one being
//     written, up to NumMemtables wait in the flush channel and one more is
//     being flushed: NumMemtables+2 arenas at worst; past NumMemtables
//     queued, writes stall until a flush ends (back-pressure, not growth).
//   - the block cache: with compression and encryption off (as here), a
//     block read from a table is a view into the table's mapping (file
//     pages, not anonymous memory) and the cache only adds bookkeeping, as
//     Badger's WithBlockCacheSize says; 0 disables it.
//   - the index cache: 0 keeps every table's index and bloom filter "in
//     memory", which without encryption means as views into the mapped
//     table (readTableIndex), again file pages; a cache would only matter
//     with encryption.
//
// So the budget goes to the backlog and the memtables; the caches are off.
const (
	// DefaultMemory is the budget when Options.Memory is 0.
	DefaultMemory = 1 << 30
	// MinMemory is the smallest budget: one 1 MiB memtable with one queued
	// (three arenas) in the Badger half.
	MinMemory = 16 << 20

	maxMemTables = 5 // Badger's default NumMemtables; more only stalls later
)

// arenaCost is what one memtable of size m holds in memory (Badger's
// arenaSize: m, a batch of 15% of m, and a skiplist node per entry of it).
func arenaCost(m int64) int64 { return m + 2*(15*m/100) }

// MemorySplit is how a budget is spent.
type MemorySplit struct {
	Budget       int64 // the whole budget
	Backlog      int64 // the backlog's default byte limit (Limits.Bytes): half the budget
	MemTable     int64 // Badger's MemTableSize (a power of two, 1–64 MiB)
	NumMemtables int   // Badger's NumMemtables: memtables queued for a flush before writes stall
	BlockCache   int64 // Badger's BlockCacheSize (0: off)
	IndexCache   int64 // Badger's IndexCacheSize (0: indexes stay in the mapped tables)
}

// Badger is the memtables' worst case: NumMemtables+2 arenas.
func (s MemorySplit) Badger() int64 { return int64(s.NumMemtables+2) * arenaCost(s.MemTable) }

// SplitMemory splits budget (0: DefaultMemory): half for the backlog, half
// for Badger's memtables, as the largest memtable (a power of two, at most
// Badger's default 64 MiB) of which at least two can queue for a flush
// within that half (one at 1 MiB), then as many more queued ones as fit, up
// to Badger's default of 5. Powers of two keep the WAL's size telling which
// memtable wrote it (walMemTable). Below MinMemory it returns an error.
func SplitMemory(budget int64) (MemorySplit, error) {
	if budget == 0 {
		budget = DefaultMemory
	}
	if budget < MinMemory {
		return MemorySplit{}, fmt.Errorf("queue: memory %s is below the minimum, %s", byteCount(budget), byteCount(MinMemory))
	}
	s := MemorySplit{Budget: budget, Backlog: budget / 2}
	half := budget - s.Backlog
	for m := int64(defaultMemTable); m >= minMemTable; m /= 2 {
		n := int(half/arenaCost(m)) - 2
		if n >= 2 || m == minMemTable {
			s.MemTable, s.NumMemtables = m, min(max(n, 1), maxMemTables)
			break
		}
	}
	return s, nil
}

// options applies s to Badger's options (the memtable size is the
// sizing's: it may be smaller for a small file system, or larger to replay
// an old WAL).
func (s MemorySplit) options(bo badger.Options) badger.Options {
	return bo.WithNumMemtables(s.NumMemtables).WithBlockCacheSize(s.BlockCache).WithIndexCacheSize(s.IndexCache)
}
