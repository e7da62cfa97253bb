// Command upper-go is a WASI command plugin in plain Go, no SDK: it reads the
// message from stdin and writes it to stdout with ASCII a-z upper-cased (all
// other bytes unchanged). With the input
// "fail" it writes a reason to stderr and exits with status 3; with "panic"
// it panics.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading stdin:", err)
		os.Exit(1)
	}
	switch string(in) {
	case "fail":
		fmt.Fprintln(os.Stderr, "upper-go: refusing the input \"fail\"")
		os.Exit(3)
	case "panic":
		panic("upper-go: deliberate panic")
	}
	fmt.Fprintf(os.Stderr, "upper-go: %d bytes for route %s\n", len(in), os.Getenv("SLUICE_ROUTE"))
	for i, c := range in {
		if 'a' <= c && c <= 'z' {
			in[i] = c - 'a' + 'A'
		}
	}
	os.Stdout.Write(in)
}
