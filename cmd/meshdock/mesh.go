package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/kube"
)

func init() {
	commands["mesh"] = command{summary: "Show which service meshes a cluster has (mesh status)", run: runMesh}
}

func runMesh(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "status" {
		fmt.Fprintln(stderr, "Usage: meshdock mesh status [--context C] [-o table|json]")
		return exitUsage
	}
	fs := flag.NewFlagSet("mesh status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cl clusterFlags
	cl.register(fs)
	output := fs.String("o", "table", "output format: table or json")
	if code, ok := parseFlags(fs, args[1:], stderr); !ok {
		return code
	}
	if *output != "table" && *output != "json" {
		fmt.Fprintln(stderr, "meshdock mesh status: -o is table or json")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cluster, _, err := cl.cluster()
	if err == nil {
		var list []kube.MeshStatus
		list, err = app.MeshesOf(ctx, cluster)
		if err == nil {
			if *output == "json" {
				b, _ := json.MarshalIndent(map[string]any{"meshes": list}, "", "  ")
				fmt.Fprintln(stdout, string(b))
			} else {
				for _, m := range list {
					state := "not installed"
					switch {
					case m.Installed && m.Healthy:
						state = "installed, healthy"
					case m.Installed:
						state = "installed, not healthy"
					}
					line := fmt.Sprintf("%-14s %-24s %s", m.Name, state, m.Version)
					if m.Message != "" && !(m.Installed && m.Healthy) {
						line += "  " + m.Message
					}
					fmt.Fprintln(stdout, line)
				}
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshdock mesh status: %s\n", meshdock.ErrorMessage(err))
		return exitCode(err)
	}
	return exitOK
}
