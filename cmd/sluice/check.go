package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sluicehq/sluice/runtime/config"
	"github.com/sluicehq/sluice/runtime/wasm"
)

// configCheckCmd validates a config file and compiles its plugins.
func configCheckCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: sluice config check FILE")
		return 2
	}
	cfg, err := config.Load(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	prov, err := cfg.Provision() // what serve does before it starts: the same problems, the same words
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid config:\n%s\n", args[0], indent(err))
		return 1
	}
	host, err := wasm.NewHost("", nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer host.Close()
	ctx := context.Background()
	failed := false
	for _, p := range cfg.Plugins {
		lp, err := loadPlugin(ctx, host, p, cfg.PluginDefaults)
		if err != nil {
			fmt.Fprintf(stderr, "%s: plugin %q (%s): %v\n", args[0], p.Name, p.Path, err)
			failed = true
			continue
		}
		fmt.Fprintf(stdout, "plugin %s: ABI %s, %d bytes, sha256 %s\n", lp.Name, abiLabel(lp.ABI), lp.Size, lp.SHA256)
		lp.Close(ctx) // #nosec G104 -- a plugin compiled only to check it
	}
	for _, r := range prov.Routes {
		if a := r.Auth; a != nil {
			fmt.Fprintf(stdout, "route %s: auth %s\n", r.Name, a.Verify)
		}
		if r.Schema != nil {
			fmt.Fprintf(stdout, "route %s: schema %s compiles\n", r.Name, r.Schema.Path)
		}
	}
	for _, t := range []struct {
		key string
		tls *config.TLS
	}{{"tls", cfg.TLS}, {"admin_tls", cfg.AdminTLS}} {
		if _, err := loadTLS(t.tls, nil); err != nil {
			fmt.Fprintf(stderr, "%s: %s: %v\n", args[0], t.key, err)
			failed = true
		}
	}
	if failed {
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d plugins, %d routes)\n", args[0], len(cfg.Plugins), len(cfg.Routes))
	return 0
}

// abiLabel names a plugin's ABI for people.
func abiLabel(abi string) string {
	if abi == wasm.ABIWASI {
		return "wasi (command)"
	}
	return fmt.Sprintf("native v%d", wasm.ABIVersion)
}
