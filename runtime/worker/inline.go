package worker

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/sluicehq/sluice/runtime/metrics"
	"github.com/sluicehq/sluice/runtime/registry"
	"github.com/sluicehq/sluice/runtime/tracectx"
	"github.com/sluicehq/sluice/runtime/tracing"
	"github.com/sluicehq/sluice/runtime/wasm"
)

// Inline runs plugins on the caller's goroutine, outside the pool: validator
// plugins at the ingress, before a message is accepted. Instances are kept
// per plugin version, at most IdleInstances of each between calls (a
// busier moment instantiates more, and closes the extra ones after). Safe
// for concurrent use.
type Inline struct {
	Plugins *registry.Registry
	// Metrics times and counts the validators' calls (nil: not counted).
	Metrics *metrics.Metrics
	// Tracer records a span for each call of a sampled message (nil:
	// tracing off).
	Tracer *tracing.Tracer
	// IdleInstances bounds the instances of one version kept between calls
	// (0: twice GOMAXPROCS: validators run on the ingress's goroutines).
	IdleInstances int

	mu    sync.Mutex
	pools map[*registry.Version]*idle
}

// idle is one version's instances waiting for a call. An instance that is
// dropped rather than closed stays in its plugin's runtime until the
// runtime closes, which is why this is not a sync.Pool.
type idle struct {
	mu    sync.Mutex
	insts []*wasm.Instance
}

func (in *Inline) pool(v *registry.Version) *idle {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pools == nil {
		in.pools = make(map[*registry.Version]*idle)
	}
	for old, p := range in.pools {
		if old.Retired() { // a newer version was swapped in: close the old one's instances
			p.closeAll()
			delete(in.pools, old)
		}
	}
	p := in.pools[v]
	if p == nil {
		p = &idle{}
		in.pools[v] = p
	}
	return p
}

func (p *idle) get() *wasm.Instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.insts); n > 0 {
		inst := p.insts[n-1]
		p.insts[n-1] = nil
		p.insts = p.insts[:n-1]
		return inst
	}
	return nil
}

// put keeps inst for the next call, or closes it if max are kept already.
func (p *idle) put(inst *wasm.Instance, max int) {
	p.mu.Lock()
	if len(p.insts) < max {
		p.insts = append(p.insts, inst)
		inst = nil
	}
	p.mu.Unlock()
	if inst != nil {
		inst.Close()
	}
}

func (p *idle) closeAll() {
	p.mu.Lock()
	insts := p.insts
	p.insts = nil
	p.mu.Unlock()
	for _, inst := range insts {
		inst.Close()
	}
}

// Validate runs c through each named plugin; their output is ignored (a
// validator never changes the body). It returns the first failure: a
// *wasm.Error whose code is plugin_rejected for a rejection. Each call is a
// child span of trace (the ingest span) when it is sampled.
func (in *Inline) Validate(names []string, c *wasm.Call, trace tracectx.Context) error {
	vs, err := in.Plugins.Acquire(names, nil)
	if err != nil {
		return err
	}
	defer in.Plugins.Release(vs)
	keep := in.IdleInstances
	if keep <= 0 {
		keep = 2 * runtime.GOMAXPROCS(0)
	}
	input := c.Input
	for _, v := range vs {
		pool := in.pool(v)
		pm := in.Metrics.Plugin(v.Plugin.Name)
		called := time.Now()
		inst := pool.get()
		if inst == nil || inst.Closed() {
			if inst, err = v.Plugin.Instantiate(context.Background()); err != nil {
				if in.Tracer != nil && trace.Sampled() {
					in.Tracer.Record(newPluginSpan(trace, "validate", v, nil, called, err))
				}
				pm.Called(time.Since(called))
				pm.Failed(pluginCode(err))
				return err
			}
		}
		c.Input = input
		err := inst.Transform(c)
		if in.Tracer != nil && trace.Sampled() {
			in.Tracer.Record(newPluginSpan(trace, "validate", v, inst, called, err))
		}
		pm.Called(time.Since(called))
		if !inst.Closed() {
			pool.put(inst, keep)
		}
		if err != nil {
			pm.Failed(pluginCode(err))
			return err
		}
	}
	return nil
}

// pluginCode is the error code of a failed plugin call.
func pluginCode(err error) string {
	var we *wasm.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return wasm.CodeFailed
}
