package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// adminStats is the part of GET /v1/stats that sluice stats shows.
type adminStats struct {
	Log struct {
		Appends      uint64 `json:"appends"`
		Completes    uint64 `json:"completes"`
		Batches      uint64 `json:"batches"`
		Syncs        uint64 `json:"syncs"`
		Backlog      int    `json:"backlog"`
		BacklogBytes int64  `json:"backlog_bytes"`
		DiskFree     int64  `json:"disk_free"`
		DiskLow      bool   `json:"disk_low"`
	} `json:"log"`
	Ingress struct {
		InflightBytes int64 `json:"inflight_bytes"`
		Routes        map[string]struct {
			AuthFailures uint64 `json:"auth_failures"`
			RateLimited  uint64 `json:"rate_limited"`
		} `json:"routes"`
	} `json:"ingress"`
}

// statsCmd prints the admin API's counters; with --watch it refreshes them
// (clearing the screen when stdout is a terminal) and shows rates.
func statsCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := opsFlags(fs)
	watch := fs.Duration("watch", 0, "refresh every this long (Ctrl-C stops)")
	frames := fs.Int("count", 0, "with --watch: stop after this many refreshes (0: never)")
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) != 0 {
		if err == nil {
			fmt.Fprintln(stderr, "usage: sluice stats [--watch 2s [--count N]]")
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	clear := *watch > 0 && isTerminal(stdout)
	var prev *adminStats
	var prevAt time.Time
	for n := 1; ; n++ {
		var st adminStats
		if err := c.getJSON(c.admin, "/v1/stats", &st); err != nil {
			return fail(stderr, err)
		}
		now := time.Now()
		var b strings.Builder
		if clear {
			b.WriteString("\x1b[H\x1b[2J")
		}
		writeStats(&b, c.admin, &st, prev, now.Sub(prevAt), now)
		io.WriteString(stdout, b.String()) // #nosec G104 -- a closed stdout ends the command below
		if *watch <= 0 || (*frames > 0 && n >= *frames) {
			return 0
		}
		prev, prevAt = &st, now
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(*watch):
		}
	}
}

func writeStats(w io.Writer, admin string, st, prev *adminStats, dt time.Duration, now time.Time) {
	rate := func(cur, old uint64) string {
		if prev == nil || dt <= 0 {
			return ""
		}
		return fmt.Sprintf(" (%.1f/s)", float64(cur-old)/dt.Seconds())
	}
	var pa, pc uint64
	if prev != nil {
		pa, pc = prev.Log.Appends, prev.Log.Completes
	}
	fmt.Fprintf(w, "sluice at %s, %s\n\n", admin, now.UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "accepted\t%d%s\n", st.Log.Appends, rate(st.Log.Appends, pa))
	fmt.Fprintf(tw, "completed\t%d%s\n", st.Log.Completes, rate(st.Log.Completes, pc))
	fmt.Fprintf(tw, "backlog\t%d messages, %s\n", st.Log.Backlog, sizeOf(st.Log.BacklogBytes))
	fmt.Fprintf(tw, "group commits\t%d batches, %d fsyncs\n", st.Log.Batches, st.Log.Syncs)
	disk := sizeOf(st.Log.DiskFree) + " free"
	if st.Log.DiskLow {
		disk += " (LOW: new messages refused)"
	}
	fmt.Fprintf(tw, "disk\t%s\n", disk)
	fmt.Fprintf(tw, "receiving\t%s of bodies\n", sizeOf(st.Ingress.InflightBytes))
	tw.Flush() // #nosec G104 -- a tabwriter over a strings.Builder
	if len(st.Ingress.Routes) == 0 {
		return
	}
	fmt.Fprintln(w)
	names := make([]string, 0, len(st.Ingress.Routes))
	for name := range st.Ingress.Routes {
		names = append(names, name)
	}
	slices.Sort(names)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tAUTH FAILURES\tRATE LIMITED")
	for _, name := range names {
		r := st.Ingress.Routes[name]
		fmt.Fprintf(tw, "%s\t%d\t%d\n", name, r.AuthFailures, r.RateLimited)
	}
	tw.Flush() // #nosec G104 -- a tabwriter over a strings.Builder
}

// sizeOf is n in B, KiB, MiB or GiB, one decimal.
func sizeOf(n int64) string {
	f, i := float64(n), 0
	for f >= 1024 && i < 3 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, []string{"B", "KiB", "MiB", "GiB"}[i])
}
