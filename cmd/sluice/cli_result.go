package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"
)

// maxResultWait is the longest wait one GET /v1/results/{id} accepts.
const maxResultWait = 60 * time.Second

// resultCmd prints a result document, indented; with --wait it long-polls
// until the result is final or the wait ends (then prints it as it is).
func resultCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("result", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := opsFlags(fs)
	wait := fs.Duration("wait", 0, "wait up to this long for the result to be final")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: sluice result ID [--wait 30s]")
		return 2
	}
	deadline := time.Now().Add(*wait)
	for {
		path := "/v1/results/" + url.PathEscape(pos[0])
		left := time.Until(deadline)
		if left > 0 {
			path += "?wait=" + min(left, maxResultWait).Round(time.Millisecond).String()
		}
		_, b, err := c.do("GET", c.server, path, nil, nil)
		if err != nil {
			return fail(stderr, err)
		}
		var r struct{ Status string }
		json.Unmarshal(b, &r) // #nosec G104 -- printed as it is either way
		if final(r.Status) || time.Until(deadline) <= 0 {
			fmt.Fprintln(stdout, prettyJSON(b))
			return 0
		}
	}
}

func final(status string) bool {
	return status == "succeeded" || status == "failed" || status == "dead"
}
