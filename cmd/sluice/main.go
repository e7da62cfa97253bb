// Command sluice is the Sluice server and its tools.
//
//	sluice serve [--config FILE] [--data DIR] [--listen ADDR] [--admin-listen ADDR|off]
//	sluice config check FILE
//	sluice plugin run FILE.wasm [--input FILE|-] [--header K=V]... [--abi native|wasi]
//	sluice plugin inspect FILE.wasm
//	sluice plugin new NAME [--lang go|rust|c|assemblyscript|zig]
//	sluice send ROUTE [FILE|-] [-H K:V]... [--async|--wait D] [--count N --concurrency C]
//	sluice result ID [--wait D]
//	sluice dead list|replay|discard ROUTE [ID]
//	sluice stats [--watch D]
//	sluice version
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set by the linker (-X main.version=...); else from build info.
var version = ""

const usage = `Sluice: durable ingest, WASM transforms and HTTP delivery for webhooks.

Usage:
  sluice serve [--config FILE] [--data DIR] [--listen ADDR] [--admin-listen ADDR|off]
        Serve; without --config, the embedded demo (routes demo-sync, demo-async).
  sluice config check FILE
        Validate a config file and compile its plugins; explain every error.
  sluice plugin run FILE.wasm [--input FILE|-] [--header K=V]... [--abi native|wasi]
        Transform one message as the server would; the output goes to stdout.
  sluice plugin inspect FILE.wasm
        Describe a module (ABI, imports, exports, memory, sha256) and say whether it loads.
  sluice plugin new NAME [--lang go|rust|c|assemblyscript|zig]
        Write a ready plugin project: source, SDK, Makefile, example input, README.
        See sluice plugin help for their flags.
  sluice version
        Print the version.

Operator commands (talk to a running server; --server URL or SLUICE_SERVER, default
http://127.0.0.1:8080; --admin URL or SLUICE_ADMIN, default http://127.0.0.1:8081;
--token or SLUICE_ADMIN_TOKEN for an admin API with admin_token):
  sluice send ROUTE [FILE|-] [-H K:V]... [--async|--wait 10s]
        POST a file (or stdin) to /in/ROUTE; print the status, correlation id and body.
        --wait follows a 202 to its final result.
  sluice send ROUTE FILE --count N --concurrency C
        Send the file N times; print the rate, latency p50/p90/p99 and status counts.
  sluice result ID [--wait 30s]
        Print a result; --wait long-polls until it is final.
  sluice dead list ROUTE | dead replay ROUTE [ID] | dead discard ROUTE ID
        List, replay (one, or all in the order they died) or discard dead letters.
  sluice stats [--watch 2s]
        Print the admin API's counters (/v1/stats); --watch refreshes them with rates.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return runWithStdin(args, os.Stdin, stdout, stderr)
}

// runWithStdin is run with the standard input given (sluice plugin run --input -).
func runWithStdin(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serveCmd(args[1:], stderr)
	case "config":
		if len(args) >= 2 && args[1] == "check" {
			return configCheckCmd(args[2:], stdout, stderr)
		}
		fmt.Fprint(stderr, "usage: sluice config check FILE\n")
		return 2
	case "plugin":
		return pluginCmd(args[1:], stdin, stdout, stderr)
	case "send":
		return sendCmd(args[1:], stdin, stdout, stderr)
	case "result":
		return resultCmd(args[1:], stdout, stderr)
	case "dead":
		return deadCmd(args[1:], stdout, stderr)
	case "stats":
		return statsCmd(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "sluice", versionString())
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "sluice: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v + " " + bi.GoVersion
		}
	}
	return "dev"
}
