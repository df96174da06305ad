package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/engine"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/meshes"
)

func init() {
	commands["deploy"] = command{summary: "Deploy a compose app into a Kubernetes cluster", run: runDeploy}
	commands["delete"] = command{summary: "Delete a deployed app from its namespace", run: runDelete}
	commands["status"] = command{summary: "Show the state of a deployed app", run: runStatus}
}

// clusterFlags name the cluster: a kubeconfig context.
type clusterFlags struct {
	context, kubeconfig string
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.context, "context", "", "kubeconfig context (default: the current context)")
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
}

func (c *clusterFlags) cluster() (kube.Cluster, kube.Config, error) {
	var cfg kube.Config
	var err error
	if c.kubeconfig != "" {
		cfg, err = kube.LoadFile(c.kubeconfig, c.context)
	} else {
		cfg, err = kube.LoadDefault(c.context)
	}
	if err != nil {
		return kube.Cluster{}, cfg, err
	}
	cl, err := kube.NewCluster(cfg)
	return cl, cfg, err
}

func runDeploy(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf composeFlags
	cf.register(fs)
	var cl clusterFlags
	cl.register(fs)
	wait := fs.Bool("wait", false, "wait until every workload is ready")
	timeout := fs.Duration("timeout", app.DefaultRolloutTimeout, "with --wait, how long to wait for the rollout")
	force := fs.Bool("force-conflicts", false, "take over fields that another field manager owns")
	expose := fs.String("expose", "", "how published ports are reached: loadbalancer, port-forward or none (default: loadbalancer on Docker Desktop, none here otherwise: run kubectl port-forward)")
	mesh := fs.String("mesh", "none", "service mesh to enrol the app in: "+strings.Join(meshes.Names(), ", "))
	authz := fs.String("authz", "off", "authorization of the app's paths: off, audit (the mesh reports what it would refuse) or enforce (NetworkPolicies and the mesh's rules allow exactly the paths)")
	policyFile := fs.String("policy-file", "", "the app's traffic rules for the mesh (mtls, timeouts, retries, circuit breaking), YAML or JSON")
	noBuild := fs.Bool("no-build", false, "do not build the images of build: services (they must exist)")
	quiet := fs.Bool("q", false, "do not print conversion warnings")
	dockerHost := fs.String("docker-host", "", "Docker Engine address, to build images (default $DOCKER_HOST, else the default socket)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meshdock deploy [-f compose.yaml]... [--context C] [-n NS] [--mesh NAME] [--authz off|audit|enforce] [--wait] [--timeout D] [--force-conflicts]")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	src, opt, err := cf.source()
	req := app.DeployRequest{Namespace: cf.namespace, Expose: *expose,
		Options: meshdock.DeployOptions{Mesh: *mesh, Authz: *authz, ForceConflicts: *force, Timeout: meshdock.Duration(*timeout), NoWait: !*wait, NoBuild: *noBuild}}
	if err == nil {
		err = req.Check()
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshdock deploy: %s\n", meshdock.ErrorMessage(err))
		return exitUsage
	}
	var policy *meshes.Policy
	if *policyFile != "" {
		data, rerr := os.ReadFile(*policyFile)
		if rerr != nil {
			fmt.Fprintf(stderr, "meshdock deploy: --policy-file: %v\n", rerr)
			return exitUsage
		}
		if policy, err = meshes.ParsePolicy(*policyFile, data); err != nil {
			fmt.Fprintf(stderr, "meshdock deploy: %s\n", meshdock.ErrorMessage(err))
			return exitError
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "meshdock deploy: %s\n", meshdock.ErrorMessage(err))
		if meshdock.ErrorCode(err) == meshdock.EINTERNAL {
			fmt.Fprintf(stderr, "  cause: %v\n", err)
		}
		return exitCode(err)
	}
	opt.Namespace = "" // the deploy puts every object in its namespace
	res, err := app.Convert(ctx, src, opt)
	if err != nil {
		return fail(err)
	}
	if !*quiet {
		for _, w := range res.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", formatWarning(w))
		}
	}
	cluster, cfg, err := cl.cluster()
	if err != nil {
		return fail(err)
	}
	eng, err := engine.New(*dockerHost)
	if err != nil {
		return fail(err)
	}
	ns := req.Namespace
	if ns == "" {
		ns = app.NamespaceFor(res.Project)
	}
	kind := cluster.Kind(ctx)
	if req.Expose == "" && kind != kube.KindDockerDesktop {
		req.Expose = app.ExposeNone // a command that ends holds no port-forward
	}
	svc := app.New(app.Config{Engine: eng})
	p := newProgress(stdout)
	plan := app.Plan{Project: res.Project, Objects: res.Objects, Builds: res.Builds, Graph: res.Graph, Options: req.Options, Expose: req.Expose, Policy: policy}
	if src.Dir != "" {
		// Build contexts are read inside the project only: a link out of
		// it is refused, as the converter refuses a context outside it.
		root, err := os.OpenRoot(src.Dir)
		if err != nil {
			return fail(meshdock.Wrap(meshdock.EINVALID, err, "the project directory cannot be opened: %v", err))
		}
		defer root.Close()
		plan.Files = root.FS()
	}
	start := time.Now()
	out, err := svc.Deploy(ctx, app.Target{Cluster: cluster, Kind: kind, Context: cfg.Context, Namespace: ns}, plan, p.emit)
	if err != nil {
		return fail(err)
	}
	p.summary(out, ns, time.Since(start))
	return exitOK
}

func runDelete(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("delete", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cl clusterFlags
	cl.register(fs)
	ns := fs.String("n", "", "namespace of the app (required)")
	fs.StringVar(ns, "namespace", "", "same as -n")
	volumes := fs.Bool("volumes", false, "delete the app's PersistentVolumeClaims (its data) too")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meshdock delete -n NAMESPACE [--volumes] [--context C]")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if *ns == "" {
		fmt.Fprintln(stderr, "meshdock delete: -n NAMESPACE is required")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cluster, _, err := cl.cluster()
	if err == nil {
		p := newProgress(stdout)
		var kept []meshdock.ObjectRef
		kept, err = app.New(app.Config{}).Delete(ctx, cluster, *ns, "", *volumes, p.emit)
		if err == nil && len(kept) > 0 {
			fmt.Fprintf(stdout, "kept %d PersistentVolumeClaims (the app's data); delete them with --volumes\n", len(kept))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshdock delete: %s\n", meshdock.ErrorMessage(err))
		return exitCode(err)
	}
	return exitOK
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cl clusterFlags
	cl.register(fs)
	ns := fs.String("n", "", "namespace of the app (required)")
	fs.StringVar(ns, "namespace", "", "same as -n")
	output := fs.String("o", "table", "output format: table or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meshdock status -n NAMESPACE [--context C] [-o table|json]")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if *ns == "" || (*output != "table" && *output != "json") {
		fmt.Fprintln(stderr, "meshdock status: -n NAMESPACE is required, and -o is table or json")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cluster, _, err := cl.cluster()
	var st []kube.WorkloadStatus
	if err == nil {
		st, err = cluster.Status(ctx, *ns)
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshdock status: %s\n", meshdock.ErrorMessage(err))
		return exitCode(err)
	}
	if *output == "json" {
		list := make([]meshdock.WorkloadState, len(st))
		for i, s := range st {
			list[i] = app.WorkloadOf(s)
		}
		b, _ := json.MarshalIndent(map[string]any{"namespace": *ns, "workloads": list}, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return exitOK
	}
	if len(st) == 0 {
		fmt.Fprintf(stdout, "nothing meshdock deployed is in namespace %s\n", *ns)
		return exitOK
	}
	for _, s := range st {
		fmt.Fprintln(stdout, workloadLine(app.WorkloadOf(s)))
	}
	return exitOK
}

// workloadLine is one workload's line: mark, kind/name, ready/desired,
// and why not ready.
func workloadLine(w meshdock.WorkloadState) string {
	mark := "…"
	if w.Done {
		mark = "✓"
	} else if len(w.Problems) > 0 {
		mark = "✗"
	}
	line := fmt.Sprintf("%s %-36s %d/%d", mark, w.Kind+" "+w.Name, w.Ready, w.Desired)
	if w.Message != "" {
		line += "  " + w.Message
	}
	for _, p := range w.Problems {
		line += "; " + p.String()
	}
	return line
}

// progress prints a deploy's events: one line per event, or, on a
// terminal, the workloads' lines updated in place below the rest.
type progress struct {
	mu        sync.Mutex
	w         io.Writer
	tty       bool
	workloads []meshdock.WorkloadState
	index     map[string]int
	drawn     int // workload lines on screen
}

func newProgress(w io.Writer) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb" {
			tty = true
		}
	}
	return &progress{w: w, tty: tty, index: map[string]int{}}
}

func (p *progress) emit(typ string, data any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch d := data.(type) {
	case meshdock.WorkloadState:
		key := d.ObjectRef.String()
		if i, ok := p.index[key]; ok {
			p.workloads[i] = d
		} else {
			p.index[key] = len(p.workloads)
			p.workloads = append(p.workloads, d)
		}
		if !p.tty {
			fmt.Fprintln(p.w, workloadLine(d))
			return nil
		}
		p.redraw()
		return nil
	case meshdock.ObjectState:
		p.line(fmt.Sprintf("%s %s", d.ObjectRef, d.Action))
	case app.Step:
		p.line("==> " + d.Message)
	case app.BuildLine:
		p.line(fmt.Sprintf("  [%s] %s", d.Service, d.Line))
	case app.ImageState:
		msg := fmt.Sprintf("image %s %s", d.Image, d.State)
		if d.Node != "" {
			msg += " into node " + d.Node
		}
		if d.Message != "" {
			msg += ": " + d.Message
		}
		p.line(msg)
	case meshdock.ObjectRef:
		p.line(fmt.Sprintf("%s %s", d, typ))
	case meshdock.URL:
		if d.Error != "" {
			p.line(fmt.Sprintf("%s:%d: %s", d.Service, d.Port, d.Error))
		} else {
			p.line(fmt.Sprintf("%s:%d: %s (%s)", d.Service, d.Port, d.URL, d.Via))
		}
	case app.Message:
		p.line("warning: " + d.Message)
	case app.Rule:
		p.line("rule: " + d.Rule)
	case app.MeshInstalled:
		if len(d.Releases) == 0 {
			p.line(d.Mesh + " installs nothing")
		} else {
			p.line(fmt.Sprintf("%s %s installed in %.1f s (releases %s)", d.Mesh, d.Version, d.Seconds, strings.Join(d.Releases, ", ")))
		}
	case app.MeshUninstalled:
		p.line(d.Mesh + " uninstalled")
		for _, l := range d.Left {
			p.line("  left behind: " + l)
		}
	}
	return nil
}

// line prints a line above the workloads' block.
func (p *progress) line(s string) {
	if p.tty && p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.drawn)
		fmt.Fprintln(p.w, s)
		p.drawn = 0
		p.redraw()
		return
	}
	fmt.Fprintln(p.w, s)
}

// redraw rewrites the workloads' block in place.
func (p *progress) redraw() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA", p.drawn)
	}
	for _, w := range p.workloads {
		fmt.Fprintf(p.w, "\x1b[2K%s\n", workloadLine(w))
	}
	p.drawn = len(p.workloads)
}

// summary says what the deploy did, in one line.
func (p *progress) summary(out *app.Outcome, ns string, took time.Duration) {
	actions := map[string]int{}
	for _, o := range out.Objects {
		actions[o.Action]++
	}
	var parts []string
	for _, a := range []string{"created", "configured", "replaced", "unchanged"} {
		if actions[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", actions[a], a))
		}
	}
	if len(out.Pruned) > 0 {
		parts = append(parts, fmt.Sprintf("%d pruned", len(out.Pruned)))
	}
	if n := len(out.Workloads); n > 0 {
		parts = append(parts, fmt.Sprintf("%d workloads ready", n))
	}
	fmt.Fprintf(p.w, "deployed into namespace %s in %.1fs: %s\n", ns, took.Seconds(), strings.Join(parts, ", "))
	if out.Expose == app.ExposeNone && len(out.Published) > 0 {
		for _, pub := range out.Published {
			fmt.Fprintf(p.w, "  %s:%d: kubectl port-forward -n %s service/%s %d:%d\n", pub.Service, pub.HostPort, ns, pub.KubeService, pub.HostPort, pub.Port)
		}
	}
}
