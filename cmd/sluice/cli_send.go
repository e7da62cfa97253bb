package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sendHeaders is -H K:V, repeatable.
type sendHeaders http.Header

func (h sendHeaders) String() string { return "" }

func (h sendHeaders) Set(v string) error {
	k, val, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q is not K:V", v)
	}
	http.Header(h).Add(strings.TrimSpace(k), strings.TrimSpace(val))
	return nil
}

const sendUsage = `usage: sluice send ROUTE [FILE|-] [-H K:V]... [--async|--wait 10s] [--count N --concurrency C]`

// sendCmd POSTs a file (or stdin) to /in/ROUTE and prints the answer; with
// --wait it follows a 202 to the final result; with --count it sends the
// file N times and prints a summary.
func sendCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := opsFlags(fs)
	hdr := sendHeaders{}
	fs.Var(hdr, "H", "request header K:V (repeatable)")
	async := fs.Bool("async", false, "print the 202 and return (the default)")
	wait := fs.Duration("wait", 0, "after a 202, wait up to this long for the final result and print it")
	count := fs.Int("count", 1, "send the file this many times and print a summary")
	conc := fs.Int("concurrency", 1, "requests in flight with --count")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprintln(stderr, sendUsage)
		return 2
	}
	if *async && *wait > 0 {
		return fail(stderr, errors.New("--async and --wait exclude each other"))
	}
	if *count < 1 || *conc < 1 {
		return fail(stderr, errors.New("--count and --concurrency must be at least 1"))
	}
	route := pos[0]
	var body []byte
	if len(pos) == 1 || pos[1] == "-" {
		if f, ok := stdin.(*os.File); ok && isTerminal(f) {
			return fail(stderr, errors.New("no message: give a FILE, or pipe one into sluice send ROUTE -"))
		}
		body, err = io.ReadAll(stdin)
	} else {
		body, err = os.ReadFile(pos[1]) // #nosec G703 G304 -- the file the operator named on the command line
	}
	if err != nil {
		return fail(stderr, fmt.Errorf("reading the message: %w", err))
	}
	h := http.Header(hdr)
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	path := "/in/" + url.PathEscape(route)
	if *count > 1 {
		return sendMany(c, path, body, h, *count, *conc, stdout, stderr)
	}
	resp, answer, err := c.do("POST", c.server, path, body, h)
	if resp == nil {
		return fail(stderr, err)
	}
	id := resp.Header.Get("Sluice-Correlation-Id")
	if err == nil && *wait > 0 && resp.StatusCode == http.StatusAccepted && id != "" {
		fmt.Fprintf(stderr, "accepted as %s; waiting for the result\n", id)
		return resultCmd([]string{"--server", c.server, "--token", c.token, "--wait", wait.String(), id}, stdout, stderr)
	}
	fmt.Fprintf(stdout, "%d %s\ncorrelation id: %s\n\n%s\n", resp.StatusCode, http.StatusText(resp.StatusCode), id, prettyJSON(answer))
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

// prettyJSON indents a JSON document; anything else is returned as it is.
func prettyJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") == nil {
		return out.String()
	}
	return strings.TrimRight(string(b), "\n")
}

// sendMany sends body n times, conc at a time, drawing progress on stderr
// (a terminal) and printing the rate, latency percentiles and the count of
// each status. A request that got no answer counts as "error". Exit 1 if
// any answer was not 2xx.
func sendMany(c *opsClient, path string, body []byte, h http.Header, n, conc int, stdout, stderr io.Writer) int {
	c.hc.Transport = &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, n)
		statuses  = map[string]int{}
		firstErr  error
		next      = make(chan struct{}, n)
		wg        sync.WaitGroup
	)
	for range n {
		next <- struct{}{}
	}
	close(next)
	bar := newProgress(stderr, "sending", n)
	start := time.Now()
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				t0 := time.Now()
				resp, _, err := c.do("POST", c.server, path, body, h)
				d := time.Since(t0)
				status := "error"
				if resp != nil {
					status = strconv.Itoa(resp.StatusCode)
				}
				mu.Lock()
				latencies = append(latencies, d)
				statuses[status]++
				if err != nil && firstErr == nil {
					firstErr = err
				}
				bar.set(len(latencies), "")
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	bar.done()
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	fmt.Fprintf(stdout, "%d requests in %s: %.1f/s\n", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	fmt.Fprintf(stdout, "latency p50 %s  p90 %s  p99 %s  max %s\n", roundDur(pct(0.50)), roundDur(pct(0.90)),
		roundDur(pct(0.99)), roundDur(latencies[len(latencies)-1]))
	keys := make([]string, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ok := true
	for _, k := range keys {
		fmt.Fprintf(stdout, "status %s: %d\n", k, statuses[k])
		ok = ok && k[0] == '2'
	}
	if !ok {
		return fail(stderr, fmt.Errorf("not every request was accepted; the first failure: %w", firstErr))
	}
	return 0
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
