package procstat

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

var (
	errMalformedStat = errors.New("procstat: malformed stat line")
	errNoVmRSS       = errors.New("procstat: no VmRSS in status")
	errNoWriteBytes  = errors.New("procstat: no write_bytes in io")
)

// ClockTick is the unit of utime/stime in /proc/<pid>/stat (USER_HZ). It is
// 100 Hz on every mainstream Linux architecture and part of the user ABI;
// reading it properly needs sysconf(_SC_CLK_TCK), which needs cgo.
const ClockTick = 10 * time.Millisecond

// CPUTime returns the user+system CPU time consumed so far by process pid,
// including all of its threads. Resolution is ClockTick.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading stat of pid %d: %w", pid, err)
	}
	ticks, err := ParseStatTicks(string(b))
	if err != nil {
		return 0, fmt.Errorf("parsing stat of pid %d: %w", pid, err)
	}
	return time.Duration(ticks) * ClockTick, nil
}

// ParseStatTicks returns utime+stime (fields 14 and 15, in clock ticks) from
// the contents of /proc/<pid>/stat. The command name (field 2) may contain
// spaces and parentheses, so parsing starts after its last ')'.
func ParseStatTicks(stat string) (uint64, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errMalformedStat
	}
	// After ") " come fields 3 (state) onward: utime is field 14, i.e. index 11 here.
	f := strings.Fields(stat[end+1:])
	if len(f) < 13 {
		return 0, errMalformedStat
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errMalformedStat
	}
	return utime + stime, nil
}

// Memory is a process's resident memory in KiB.
type Memory struct {
	RSSKiB  uint64 `json:"rss_kib"`  // VmRSS: resident now
	PeakKiB uint64 `json:"peak_kib"` // VmHWM: peak resident since start
	// VmRSS split: anonymous memory (heap, stacks: what the process owns)
	// and file-backed pages (mapped files such as Badger's memory-mapped
	// tables and logs, which the kernel may drop and reread). Both are 0 on
	// kernels older than 4.5, which do not report them.
	AnonKiB uint64 `json:"rss_anon_kib"` // RssAnon
	FileKiB uint64 `json:"rss_file_kib"` // RssFile
}

// ReadMemory returns the current and peak resident set size of process pid.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("reading status of pid %d: %w", pid, err)
	}
	return ParseStatusMemory(string(b))
}

// ParseStatusMemory extracts VmRSS, VmHWM, RssAnon and RssFile (kB) from
// /proc/<pid>/status.
func ParseStatusMemory(status string) (Memory, error) {
	var m Memory
	seen, err := parseFields(status, map[string]*uint64{
		"VmRSS": &m.RSSKiB, "VmHWM": &m.PeakKiB, "RssAnon": &m.AnonKiB, "RssFile": &m.FileKiB})
	if err != nil {
		return Memory{}, err
	}
	if !seen["VmRSS"] {
		return Memory{}, errNoVmRSS
	}
	return m, nil
}

// parseFields reads the "name: value" lines of a /proc file into the
// fields named in dst (a value may end in " kB") and says which it saw.
func parseFields(text string, dst map[string]*uint64) (map[string]bool, error) {
	seen := map[string]bool{}
	for line := range strings.Lines(text) {
		key, val, ok := strings.Cut(line, ":")
		p, want := dst[key]
		if !ok || !want {
			continue
		}
		val = strings.TrimSuffix(strings.TrimSpace(val), " kB")
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %s %q: %w", key, val, err)
		}
		*p, seen[key] = n, true
	}
	return seen, nil
}

// IO is a process's storage I/O counters from /proc/<pid>/io, in bytes since
// it started (its threads included; its children not).
type IO struct {
	// WriteBytes is what the process caused to be sent to the storage layer:
	// written pages are counted when they are dirtied, mmap'd ones included,
	// so it counts what reaches the page cache bound for a disk — not what
	// reaches a tmpfs, which has no disk. Rewriting a page already dirty
	// counts again.
	WriteBytes uint64 `json:"write_bytes"`
	// CancelledWriteBytes is the part of WriteBytes never written back
	// because the file was truncated or deleted first.
	CancelledWriteBytes uint64 `json:"cancelled_write_bytes"`
	ReadBytes           uint64 `json:"read_bytes"` // fetched from the storage layer
	WChar               uint64 `json:"wchar"`      // passed to write(2) and the like, whatever the target
}

// ReadIO returns the I/O counters of process pid. Reading another process's
// io file needs the right to ptrace it (a child of the same user has it).
func ReadIO(pid int) (IO, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return IO{}, fmt.Errorf("reading io of pid %d: %w", pid, err)
	}
	return ParseIO(string(b))
}

// ParseIO parses the contents of /proc/<pid>/io ("name: value" lines).
// write_bytes is required; the other fields are 0 when absent.
func ParseIO(io string) (IO, error) {
	var v IO
	seen, err := parseFields(io, map[string]*uint64{"write_bytes": &v.WriteBytes,
		"cancelled_write_bytes": &v.CancelledWriteBytes, "read_bytes": &v.ReadBytes, "wchar": &v.WChar})
	if err != nil {
		return IO{}, err
	}
	if !seen["write_bytes"] {
		return IO{}, errNoWriteBytes
	}
	return v, nil
}

// Machine describes where a benchmark ran.
type Machine struct {
	NumCPU    int    `json:"nproc"`     // CPUs this process may use
	CPUModel  string `json:"cpu_model"` // first "model name" in /proc/cpuinfo
	GoVersion string `json:"go_version"`
	Kernel    string `json:"kernel"` // /proc/sys/kernel/osrelease
	Hostname  string `json:"hostname"`
}

// ReadMachine describes the current machine. Facts it cannot read are left
// empty rather than failing the benchmark.
func ReadMachine() Machine {
	m := Machine{NumCPU: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = ParseCPUModel(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Hostname, _ = os.Hostname()
	return m
}

// ParseCPUModel returns the first "model name" value of /proc/cpuinfo, or ""
// (e.g. on arm64, which has no such line).
func ParseCPUModel(cpuinfo string) string {
	for line := range strings.Lines(cpuinfo) {
		key, val, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(val)
		}
	}
	return ""
}

// LoadAvg returns the 1-minute load average, or -1 if it cannot be read. On a
// shared machine it hints at how much else was running.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// SystemCPU is machine-wide CPU time since boot, summed over all CPUs.
type SystemCPU struct {
	Busy time.Duration // user, nice, system, irq, softirq and steal
	Idle time.Duration // idle and iowait
}

// ReadSystemCPU reads the aggregate "cpu" line of /proc/stat.
func ReadSystemCPU() (SystemCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return SystemCPU{}, fmt.Errorf("reading /proc/stat: %w", err)
	}
	return ParseSystemCPU(string(b))
}

// ParseSystemCPU parses the aggregate "cpu" line of /proc/stat. Guest time
// is already included in user and nice, so it is not added again.
func ParseSystemCPU(stat string) (SystemCPU, error) {
	for line := range strings.Lines(stat) {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		var v [8]uint64 // user nice system idle iowait irq softirq steal
		for i := range v {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return SystemCPU{}, errMalformedStat
			}
			v[i] = n
		}
		busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
		idle := v[3] + v[4]
		return SystemCPU{Busy: time.Duration(busy) * ClockTick, Idle: time.Duration(idle) * ClockTick}, nil
	}
	return SystemCPU{}, errMalformedStat
}
