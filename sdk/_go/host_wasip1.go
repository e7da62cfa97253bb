//go:build wasip1

package sluice

import "unsafe"

// The host module, sdk/ABI.md. Every pointer/length pair is read by the host during the call, so the Go
// values only have to stay alive until the call returns, which passing them guarantees.

//go:wasmimport sluice set_output
func sluiceSetOutput(ptr unsafe.Pointer, n int32)

//go:wasmimport sluice set_error
func sluiceSetError(ptr unsafe.Pointer, n int32)

//go:wasmimport sluice set_content_type
func sluiceSetContentType(ptr unsafe.Pointer, n int32)

//go:wasmimport sluice set_header
func sluiceSetHeader(namePtr unsafe.Pointer, nameLen int32, valuePtr unsafe.Pointer, valueLen int32)

//go:wasmimport sluice meta
func sluiceMeta(keyPtr unsafe.Pointer, keyLen int32, bufPtr unsafe.Pointer, bufCap int32) int32

//go:wasmimport sluice log
func sluiceLog(level int32, ptr unsafe.Pointer, n int32)

//go:wasmimport sluice now
func sluiceNow() int64

func hostSetOutput(b []byte) {
	sluiceSetOutput(unsafe.Pointer(unsafe.SliceData(b)), int32(len(b)))
}

func hostSetError(s string) {
	sluiceSetError(unsafe.Pointer(unsafe.StringData(s)), int32(len(s)))
}

func hostSetContentType(s string) {
	sluiceSetContentType(unsafe.Pointer(unsafe.StringData(s)), int32(len(s)))
}

func hostSetHeader(name, value string) {
	sluiceSetHeader(unsafe.Pointer(unsafe.StringData(name)), int32(len(name)),
		unsafe.Pointer(unsafe.StringData(value)), int32(len(value)))
}

func hostMeta(key, buf []byte) int32 {
	return sluiceMeta(unsafe.Pointer(unsafe.SliceData(key)), int32(len(key)),
		unsafe.Pointer(unsafe.SliceData(buf)), int32(len(buf)))
}

func hostLog(level Level, msg string) {
	sluiceLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}

func hostNow() int64 {
	return sluiceNow()
}

// The guest exports. go:wasmexport works in any package since Go 1.24, so plugins get them by importing the SDK.

//go:wasmexport sluice_abi_version
func sluiceABIVersion() int32 {
	return ABIVersion
}

//go:wasmexport sluice_alloc
func sluiceAlloc(size int32) unsafe.Pointer {
	b := g.alloc(size)
	if b == nil {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

//go:wasmexport sluice_transform
func sluiceTransform(ptr unsafe.Pointer, n int32) int32 {
	body, ok := g.input(uintptr(ptr), n)
	if !ok {
		hostLog(LevelError, "sluice: sluice_transform called with bytes outside the buffer from sluice_alloc")
		return codeFailure
	}
	return g.transform(body)
}
