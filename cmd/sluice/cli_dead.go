package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
)

const deadUsage = "usage: sluice dead list ROUTE | dead replay ROUTE [ID] | dead discard ROUTE ID"

// deadLetter is the part of a dead letter (GET /v1/routes/{route}/dead)
// the list shows.
type deadLetter struct {
	CorrelationID string `json:"correlation_id"`
	DiedAt        string `json:"died_at"`
	Attempts      int    `json:"attempts"`
	LastError     struct {
		Code, Message string
	} `json:"last_error"`
	LastStatus int `json:"last_destination_status"`
}

// deadCmd lists, replays or discards a route's dead letters through the
// admin API.
func deadCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, deadUsage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("dead "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := opsFlags(fs)
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return 2
	}
	switch {
	case sub == "list" && len(pos) == 1:
		letters, err := c.deadLetters(pos[0], stderr)
		if err != nil {
			return fail(stderr, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CORRELATION ID\tDIED AT\tATTEMPTS\tLAST STATUS\tLAST ERROR")
		for _, d := range letters {
			status := "-"
			if d.LastStatus != 0 {
				status = fmt.Sprint(d.LastStatus)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s: %s\n", d.CorrelationID, d.DiedAt, d.Attempts, status, d.LastError.Code, d.LastError.Message)
		}
		tw.Flush() // #nosec G104 -- stdout: a write error is not worth another line
		fmt.Fprintf(stdout, "%d dead letters in route %s\n", len(letters), pos[0])
		return 0
	case sub == "replay" && len(pos) == 2:
		if _, _, err := c.do("POST", c.admin, deadPath(pos[0])+"/"+url.PathEscape(pos[1])+"/replay", nil, nil); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "replayed %s\n", pos[1])
		return 0
	case sub == "replay" && len(pos) == 1:
		// One by one, in the order they died, so that progress can be shown.
		letters, err := c.deadLetters(pos[0], stderr)
		if err != nil {
			return fail(stderr, err)
		}
		bar := newProgress(stderr, "replaying", len(letters))
		for i, d := range letters {
			if _, _, err := c.do("POST", c.admin, deadPath(pos[0])+"/"+url.PathEscape(d.CorrelationID)+"/replay", nil, nil); err != nil {
				bar.done()
				return fail(stderr, fmt.Errorf("after %d of %d replayed: %w", i, len(letters), err))
			}
			bar.set(i+1, "")
		}
		bar.done()
		fmt.Fprintf(stdout, "replayed %d dead letters of route %s\n", len(letters), pos[0])
		return 0
	case sub == "discard" && len(pos) == 2:
		if _, _, err := c.do("DELETE", c.admin, deadPath(pos[0])+"/"+url.PathEscape(pos[1]), nil, nil); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "discarded %s\n", pos[1])
		return 0
	}
	fmt.Fprintln(stderr, deadUsage)
	return 2
}

func deadPath(route string) string { return "/v1/routes/" + url.PathEscape(route) + "/dead" }

// deadLetters reads every page of a route's dead letters.
func (c *opsClient) deadLetters(route string, stderr io.Writer) ([]deadLetter, error) {
	var all []deadLetter
	bar := newProgress(stderr, "listing", 0)
	defer bar.done()
	for after := ""; ; {
		path := deadPath(route) + "?limit=1000"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		var page struct {
			Dead []deadLetter `json:"dead"`
			Next string       `json:"next"`
		}
		if err := c.getJSON(c.admin, path, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Dead...)
		bar.total = len(all)
		bar.set(len(all), "")
		if page.Next == "" || len(page.Dead) == 0 {
			return all, nil
		}
		after = page.Next
	}
}
