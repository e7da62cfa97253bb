package procstat

import (
	"os"
	"testing"
)

func TestParseStatTicks(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{
			name: "plain",
			stat: "1234 (sluice) S 1 1234 1234 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 9 0 100 1000000 2000 18446744073709551615",
			want: 175,
		},
		{
			name: "comm with spaces and parens",
			stat: "42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1",
			want: 10,
		},
		{name: "truncated", stat: "42 (x) R 1 2 3", wantErr: true},
		{name: "no comm", stat: "garbage", wantErr: true},
		{name: "non-numeric", stat: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 a b 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatTicks(tt.stat)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ticks = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tsluice\nVmPeak:\t  900000 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   30720 kB\n" +
		"RssAnon:\t   10240 kB\nRssFile:\t   20000 kB\nRssShmem:\t     480 kB\nThreads:\t9\n"
	m, err := ParseStatusMemory(status)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Memory{RSSKiB: 30720, PeakKiB: 40960, AnonKiB: 10240, FileKiB: 20000}); m != want {
		t.Errorf("got %+v, want %+v", m, want)
	}
	if _, err := ParseStatusMemory("Name:\tzombie\n"); err == nil {
		t.Error("want error without VmRSS")
	}
}

func TestParseIO(t *testing.T) {
	// The layout of a 6.x kernel's /proc/<pid>/io.
	in := "rchar: 323934931\nwchar: 323929600\nsyscr: 632687\nsyscw: 632675\n" +
		"read_bytes: 4096\nwrite_bytes: 323932160\ncancelled_write_bytes: 8192\n"
	got, err := ParseIO(in)
	if err != nil {
		t.Fatal(err)
	}
	want := IO{WriteBytes: 323932160, CancelledWriteBytes: 8192, ReadBytes: 4096, WChar: 323929600}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{
		"",                                    // an empty file
		"rchar: 1\nwchar: 2\n",                // no write_bytes
		"write_bytes: 12x\n",                  // not a number
		"write_bytes: -1\n",                   // negative
		"write_bytes: 18446744073709551616\n", // past uint64
	} {
		if v, err := ParseIO(bad); err == nil {
			t.Errorf("ParseIO(%q) = %+v, want an error", bad, v)
		}
	}
}

func TestReadIOSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/io"); err != nil {
		t.Skip("no /proc/self/io")
	}
	before, err := ReadIO(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// 1 MiB through write(2) into a file: wchar must grow by at least that.
	f, err := os.CreateTemp(t.TempDir(), "io")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := ReadIO(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.WChar-before.WChar < 1<<20 {
		t.Errorf("wchar grew by %d after writing 1 MiB", after.WChar-before.WChar)
	}
	if after.WriteBytes < before.WriteBytes {
		t.Errorf("write_bytes went back from %d to %d", before.WriteBytes, after.WriteBytes)
	}
}

func TestParseCPUModel(t *testing.T) {
	info := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n\nprocessor\t: 1\nmodel name\t: other\n"
	if got := ParseCPUModel(info); got != "Intel(R) Xeon(R) CPU @ 2.20GHz" {
		t.Errorf("got %q", got)
	}
	if got := ParseCPUModel("processor : 0\n"); got != "" {
		t.Errorf("got %q, want empty", got)
	}
}

func TestCPUTimeSelf(t *testing.T) {
	// Reading our own /proc entry is cheap and checks the file layout.
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMemory(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

func TestParseSystemCPU(t *testing.T) {
	stat := "cpu  100 5 50 1000 20 3 2 10 7 0\ncpu0 50 0 25 500 10 1 1 5 0 0\nintr 1 2 3\n"
	got, err := ParseSystemCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := (SystemCPU{Busy: 170 * ClockTick, Idle: 1020 * ClockTick}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := ParseSystemCPU("cpu0 1 2 3\n"); err == nil {
		t.Error("want error without aggregate cpu line")
	}
}
