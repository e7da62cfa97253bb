package wasm

// FuelUsed is the fuel the instance's last Transform spent (function calls
// and loop iterations); ok is false when it is not known: a WASI command
// (its module is gone after the call), or a closed instance.
func (i *Instance) FuelUsed() (used int64, ok bool) {
	if i.closed || i.mod == nil || i.fuel == nil {
		return 0, false
	}
	left := int64(i.fuel.Get()) // #nosec G115 -- the global holds an i64
	if left < 0 || left > i.p.limits.Fuel {
		return 0, false
	}
	return i.p.limits.Fuel - left, true
}
