package worker

import (
	"context"
	"sync"

	"github.com/sluicehq/sluice/runtime/registry"
	"github.com/sluicehq/sluice/runtime/wasm"
)

// Inline runs plugins on the caller's goroutine, outside the pool: validator
// plugins at the ingress, before a message is accepted. Instances are pooled
// per plugin version. Safe for concurrent use.
type Inline struct {
	Plugins *registry.Registry

	mu    sync.Mutex
	pools map[*registry.Version]*sync.Pool
}

func (in *Inline) pool(v *registry.Version) *sync.Pool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pools == nil {
		in.pools = make(map[*registry.Version]*sync.Pool)
	}
	for old := range in.pools {
		if old.Retired() { // a newer version was swapped in: forget the old pool
			delete(in.pools, old)
		}
	}
	p := in.pools[v]
	if p == nil {
		p = &sync.Pool{}
		in.pools[v] = p
	}
	return p
}

// Validate runs c through each named plugin; their output is ignored (a
// validator never changes the body). It returns the first failure: a
// *wasm.Error whose code is plugin_rejected for a rejection.
func (in *Inline) Validate(names []string, c *wasm.Call) error {
	vs, err := in.Plugins.Acquire(names, nil)
	if err != nil {
		return err
	}
	defer in.Plugins.Release(vs)
	input := c.Input
	for _, v := range vs {
		pool := in.pool(v)
		inst, _ := pool.Get().(*wasm.Instance)
		if inst == nil || inst.Closed() {
			if inst, err = v.Plugin.Instantiate(context.Background()); err != nil {
				return err
			}
		}
		c.Input = input
		err := inst.Transform(c)
		if !inst.Closed() {
			pool.Put(inst)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
