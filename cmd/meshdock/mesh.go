package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/meshdock/meshdock/meshes"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/kube"
)

func init() {
	commands["mesh"] = command{summary: "Show, install or uninstall the service meshes of a cluster (mesh status|install|uninstall)", run: runMesh}
}

// meshUsage is the synopsis of each mesh subcommand.
var meshUsage = map[string]string{
	"status":    "meshdock mesh status [--context C] [-o table|json]",
	"install":   "meshdock mesh install NAME [--context C] [--charts DIR]... [--repo URL] [--values FILE] [--timeout D] [--helm-wait]",
	"uninstall": "meshdock mesh uninstall NAME [--context C] [--force]",
}

// meshNames are the meshes a user installs: none, the baseline, installs
// nothing.
func meshNames() string { return strings.Join(meshes.Names()[1:], ", ") }

func runMesh(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "install", "uninstall":
			return runMeshChange(args[0], args[1:], stdout, stderr)
		}
	}
	if len(args) == 0 || args[0] != "status" {
		w, code := stderr, exitUsage
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			w, code = stdout, exitOK
		}
		fmt.Fprintln(w, "Usage: "+meshUsage["status"]+"\n       "+meshUsage["install"]+"\n       "+meshUsage["uninstall"]+
			"\nNAME is one of "+meshNames())
		return code
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

// chartFlags say where mesh charts come from.
type chartFlags struct {
	dirs stringList
	repo string
}

func (c *chartFlags) register(fs *flag.FlagSet) {
	fs.Var(&c.dirs, "charts", "take the mesh's charts from this folder of chart folders, found by the name in each Chart.yaml\n"+
		"(repeat for more folders); default: the mesh's Helm repository")
	fs.StringVar(&c.repo, "repo", "", "take the charts from this Helm repository (a mirror of them all) instead of each mesh's own")
}

func (c *chartFlags) source() meshes.Source {
	return meshes.Source{Dirs: c.dirs, Repo: c.repo, Cache: chartCache()}
}

// chartCache is where fetched charts are kept.
func chartCache() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "meshdock", "charts")
	}
	return ""
}

func runMeshChange(verb string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mesh "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cl clusterFlags
	cl.register(fs)
	var ch chartFlags
	var valuesFile *string
	var timeout *time.Duration
	var helmWait, force *bool
	if verb == "install" {
		ch.register(fs)
		valuesFile = fs.String("values", "", "YAML or JSON file of chart values by release name, over meshdock's (e.g. consul: {server: {replicas: 3}})")
		timeout = fs.Duration("timeout", meshes.DefaultInstallTimeout, "give up (and put the cluster back as it was) after this long")
		helmWait = fs.Bool("helm-wait", false, "wait with Helm's own Wait instead of meshdock's rollout watch (slower: it polls every 2 s)")
	} else {
		force = fs.Bool("force", false, "uninstall although apps meshdock deployed are enrolled in the mesh")
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: "+meshUsage[verb]+"\nNAME is one of "+meshNames())
		fs.PrintDefaults()
	}
	// The name comes first or after the flags; flags may follow it.
	name, rest := "", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, rest = args[0], args[1:]
	}
	err := fs.Parse(rest)
	if err == nil && name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
		err = fs.Parse(fs.Args()[1:])
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	} else if err != nil {
		return exitUsage
	}
	switch {
	case name == "":
		fmt.Fprintf(stderr, "meshdock mesh %s: name the mesh: one of %s\nUsage: %s\n", verb, meshNames(), meshUsage[verb])
		return exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "meshdock mesh %s: one mesh at a time: %q is a second argument\n", verb, fs.Arg(0))
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "meshdock mesh %s: %s\n", verb, meshdock.ErrorMessage(err))
		return exitCode(err)
	}
	req := app.MeshRequest{}
	if verb == "install" {
		req.Timeout, req.HelmWait = meshdock.Duration(*timeout), *helmWait
		if *valuesFile != "" {
			data, err := os.ReadFile(*valuesFile)
			if err != nil {
				return fail(meshdock.Errorf(meshdock.EINVALID, "--values: %v", err))
			}
			if err := yaml.UnmarshalStrict(data, &req.Values); err != nil {
				return fail(meshdock.Errorf(meshdock.EINVALID, "--values %s: %v", *valuesFile, err))
			}
		}
	} else {
		req.Force = *force
	}
	check := req.Check
	if verb == "uninstall" {
		check = req.CheckUninstall
	}
	if err := check(name); err != nil {
		if valuesFile != nil && *valuesFile != "" && strings.HasPrefix(meshdock.ErrorMessage(err), "values:") {
			err = meshdock.Errorf(meshdock.EINVALID, "--values %s: %s", *valuesFile, strings.TrimPrefix(meshdock.ErrorMessage(err), "values: "))
		}
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cluster, _, err := cl.cluster()
	if err != nil {
		return fail(err)
	}
	svc := app.New(app.Config{MeshCharts: ch.source()})
	p := newProgress(stdout)
	if verb == "install" {
		_, err = svc.InstallMesh(ctx, cluster, name, req, p.emit)
	} else {
		_, err = svc.UninstallMesh(ctx, cluster, name, req, p.emit)
	}
	if err != nil {
		return fail(err)
	}
	return exitOK
}
