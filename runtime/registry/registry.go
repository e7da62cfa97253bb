// Package registry holds the current version of every plugin and swaps in new
// versions while messages are in flight.
//
// A worker leases the versions of a route's chain for one message (Acquire),
// runs the message on them and gives them back (Release). Swap makes a new
// version current for the messages that start after it; the old version stays
// open until its last lease ends, then its runtime (and every instance of it)
// is closed. So a message never sees two versions of one plugin, and never
// runs on a closed one.
package registry

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/runtime/wasm"
)

// Where a version came from.
const (
	SourceConfig = "config" // the path in the config file (or the embedded demo)
	SourceUpload = "upload" // PUT /v1/plugins/{name}
)

// Version is one loaded version of a plugin.
type Version struct {
	Plugin   *wasm.Plugin
	Source   string
	LoadedAt time.Time

	leases    atomic.Int64
	retired   atomic.Bool
	closeOnce sync.Once
}

// Leases is the number of messages running on this version now.
func (v *Version) Leases() int64 { return v.leases.Load() }

// Retired reports whether a newer version replaced this one. Workers drop
// their instances of retired versions.
func (v *Version) Retired() bool { return v.retired.Load() }

func (v *Version) close() {
	v.closeOnce.Do(func() { v.Plugin.Close(context.Background()) }) // #nosec G104 -- releasing a retired version; nothing to do if it fails
}

// Registry maps plugin names to their current version. Safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	current map[string]*Version
	gen     atomic.Uint64 // bumped by every Swap
}

// New returns a registry holding the given versions.
func New(versions ...*Version) *Registry {
	r := &Registry{current: make(map[string]*Version, len(versions))}
	for _, v := range versions {
		r.current[v.Plugin.Name] = v
	}
	return r
}

// Acquire appends the current versions of names to dst and leases them; the
// caller must Release them. It fails if a name is unknown.
func (r *Registry) Acquire(names []string, dst []*Version) ([]*Version, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, n := range names {
		v := r.current[n]
		if v == nil {
			release(dst)
			return dst[:0], fmt.Errorf("no plugin named %q", n)
		}
		v.leases.Add(1)
		dst = append(dst, v)
	}
	return dst, nil
}

// Release ends the leases taken by Acquire.
func (r *Registry) Release(vs []*Version) { release(vs) }

func release(vs []*Version) {
	for _, v := range vs {
		if v.leases.Add(-1) == 0 && v.retired.Load() {
			v.close()
		}
	}
}

// Swap makes v the current version of its plugin, which must exist, and
// returns the version it replaced. The old version closes when its last
// lease ends (at once if it has none).
func (r *Registry) Swap(v *Version) (*Version, error) {
	name := v.Plugin.Name
	r.mu.Lock()
	old := r.current[name]
	if old == nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("no plugin named %q", name)
	}
	r.current[name] = v
	r.gen.Add(1)
	r.mu.Unlock()
	// No new lease can reach old now; existing ones only end.
	old.retired.Store(true)
	if old.leases.Load() == 0 {
		old.close()
	}
	return old, nil
}

// Get returns the current version of a plugin, or nil.
func (r *Registry) Get(name string) *Version {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current[name]
}

// List returns the current versions, by name.
func (r *Registry) List() []*Version {
	r.mu.RLock()
	out := make([]*Version, 0, len(r.current))
	for _, v := range r.current {
		out = append(out, v)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Version) int { return cmp.Compare(a.Plugin.Name, b.Plugin.Name) })
	return out
}

// Gen changes whenever a version is swapped: workers compare it to know when
// to drop instances of retired versions.
func (r *Registry) Gen() uint64 { return r.gen.Load() }

// Close closes every current version. Call it after the workers stopped.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.current {
		v.retired.Store(true)
		v.close()
	}
}
