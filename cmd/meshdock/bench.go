package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"fortio.org/fortio/fhttp"
	"sigs.k8s.io/yaml"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/bench"
	"github.com/meshdock/meshdock/kube"
)

func init() {
	commands["bench"] = command{summary: "Load-test an app (fortio), in-process or in the cluster across its mesh; compare two results", run: runBench}
}

// benchOutput is what `meshdock bench -o json` prints, and what `bench
// compare` reads back (fortio's own JSON too).
type benchOutput struct {
	Benchmark *meshdock.Benchmark      `json:"benchmark"`
	Fortio    *fhttp.HTTPRunnerResults `json:"fortio"`
}

type labelFlags map[string]string

func (l labelFlags) String() string { return fmt.Sprint(map[string]string(l)) }
func (l labelFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("write a label key=value")
	}
	l[k] = val
	return nil
}

func runBench(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "compare" {
		return runBenchCompare(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var lf loadFlags
	lf.register(fs)
	var cl clusterFlags
	cl.register(fs)
	service := fs.String("service", "", "target: a Service of the app, service[.namespace][:port][/path]")
	ns := fs.String("n", "", "namespace of the Service")
	fs.StringVar(ns, "namespace", "", "same as -n")
	inCluster := fs.Bool("in-cluster", false, "run the load generator as a Job in the Service's namespace, enrolled in its mesh (the load crosses the mesh)")
	pods := fs.Int("pods", 1, fmt.Sprintf("with --in-cluster, load generators side by side (1 to %d), their results merged", bench.MaxPods))
	image := fs.String("image", app.DefaultLoadgenImage, "with --in-cluster, the load generator's image (meshdock's own)")
	output := fs.String("o", "table", "output: table, smp (SMP v0.6 YAML), smp-json, fortio (fortio's JSON) or json (the result and fortio's JSON, which bench compare reads)")
	labels := labelFlags{}
	fs.Var(labels, "label", "label key=value kept with the result (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meshdock bench --url URL | --service S [-n NS] [--in-cluster [--pods N]] [--qps N] [-c N] [-t D] [-o table|smp|smp-json|fortio|json]")
		fmt.Fprintln(stderr, "       meshdock bench compare A.json B.json   (results of -o json or -o fortio; A is the baseline)")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	switch *output {
	case "table", "smp", "smp-json", "fortio", "json":
	default:
		fmt.Fprintf(stderr, "meshdock bench: -o must be table, smp, smp-json, fortio or json, not %q\n", *output)
		return exitUsage
	}
	spec := meshdock.BenchmarkSpec{URL: lf.url, Service: *service, Namespace: *ns, Context: cl.context, QPS: lf.qps, Connections: lf.connections,
		Duration: meshdock.Duration(lf.duration), Method: lf.method, Headers: lf.headers, Body: lf.body, H2: lf.h2,
		InCluster: *inCluster, Pods: *pods, Labels: labels}
	ps, err := lf.percentileList()
	if err == nil {
		err = bench.CheckPercentiles(ps)
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshdock bench: %s\n", meshdock.ErrorMessage(err))
		return exitUsage
	}
	spec.Percentiles = ps
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc := app.New(app.Config{})
	pol := app.BenchPolicy{AnyHost: true, Image: *image, Cluster: func() (kube.Cluster, error) {
		c, _, err := cl.cluster()
		return c, err
	}}
	if err := svc.CheckBenchmark(ctx, spec, pol); err != nil {
		fmt.Fprintf(stderr, "meshdock bench: %s\n", meshdock.ErrorMessage(err))
		return exitCode(err)
	}
	line := newBenchLine(stderr)
	res, err := svc.RunBenchmark(ctx, spec, pol, line.emit)
	line.done()
	if res != nil && res.Fortio != nil {
		if werr := printBench(stdout, *output, res); werr != nil {
			fmt.Fprintf(stderr, "meshdock bench: %v\n", werr)
			return exitInternal
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshdock bench: %s\n", meshdock.ErrorMessage(err))
		return exitCode(err)
	}
	return exitOK
}

func printBench(w io.Writer, output string, res *app.BenchResult) error {
	switch output {
	case "fortio":
		return writeJSON(w, res.Fortio)
	case "json":
		return writeJSON(w, benchOutput{Benchmark: res.Benchmark, Fortio: res.Fortio})
	case "smp-json":
		return writeJSON(w, app.SMP(res))
	case "smp":
		data, err := yaml.Marshal(app.SMP(res))
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	b, s := res.Benchmark, res.Benchmark.Summary
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "target\t%s\n", b.Target)
	mesh := b.Mesh
	if b.MeshVersion != "" {
		mesh += " " + b.MeshVersion
	}
	where := "in-process"
	if b.Spec.InCluster {
		where = fmt.Sprintf("in the cluster (%d pods)", b.Spec.Pods)
	}
	fmt.Fprintf(tw, "mesh\t%s\nload generator\t%s, %d connections, qps %s, %s\n", mesh, where, res.Fortio.NumThreads, res.Fortio.RequestedQPS, res.Fortio.RequestedDuration)
	fmt.Fprintf(tw, "requests\t%d in %.1fs: %.1f/s\n", s.Requests, s.Duration, s.QPS)
	fmt.Fprintf(tw, "latency (ms)\tmin %.3f  mean %.3f  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", s.MinMs, s.AvgMs, s.P50Ms, s.P90Ms, s.P99Ms, s.P999Ms, s.MaxMs)
	fmt.Fprintf(tw, "errors\t%s\n", errorsLine(s.Errors))
	if b.State == meshdock.BenchCanceled {
		fmt.Fprintf(tw, "note\tcanceled: the result is what was measured until then\n")
	}
	fmt.Fprintf(tw, "note\t%s\n", bench.CoordinatedOmission)
	return tw.Flush()
}

func errorsLine(errs map[string]int64) string {
	if len(errs) == 0 {
		return "none"
	}
	codes := make([]string, 0, len(errs))
	for c := range errs {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	var parts []string
	for _, c := range codes {
		name := c
		if c == "-1" {
			name = "socket"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, errs[c]))
	}
	return strings.Join(parts, ", ")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// benchLine shows the run so far: one line redrawn on a terminal, a line
// a second elsewhere.
type benchLine struct {
	w     io.Writer
	tty   bool
	drawn bool
}

func newBenchLine(w io.Writer) *benchLine {
	return &benchLine{w: w, tty: newProgress(w).tty}
}

func (l *benchLine) emit(typ string, data any) error {
	var s string
	switch d := data.(type) {
	case bench.Progress:
		s = fmt.Sprintf("%4.0fs  %d requests  %.1f/s  p50 %.2f ms  p99 %.2f ms  %d errors", d.Elapsed.Seconds(), d.Requests, d.QPS, d.P50ms, d.P99ms, d.Errors)
	case app.LoadgenState:
		s = fmt.Sprintf("load generators (Job %s): %d of %d running, %d ended", d.Job, d.Running, d.Pods, d.Ended)
		if d.Message != "" {
			s += ": " + d.Message
		}
	default:
		return nil
	}
	if l.tty {
		fmt.Fprintf(l.w, "\r\033[K%s", s)
		l.drawn = true
		return nil
	}
	fmt.Fprintln(l.w, s)
	return nil
}

func (l *benchLine) done() {
	if l.drawn {
		fmt.Fprintln(l.w)
	}
}

func runBenchCompare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	output := fs.String("o", "table", "output: table or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meshdock bench compare [-o table|json] A.json B.json   (A is the baseline, B the mesh)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 2 || (*output != "table" && *output != "json") {
		fs.Usage()
		return exitUsage
	}
	var sides [2]benchOutput
	for i := range sides {
		out, err := readResult(fs.Arg(i))
		if err != nil {
			fmt.Fprintf(stderr, "meshdock bench compare: %s\n", meshdock.ErrorMessage(err))
			return exitError
		}
		sides[i] = out
	}
	c := bench.Compare(sides[0].Benchmark, sides[1].Benchmark, sides[0].Fortio, sides[1].Fortio)
	if *output == "json" {
		if err := writeJSON(stdout, c); err != nil {
			return exitInternal
		}
		return exitOK
	}
	printComparison(stdout, c)
	return exitOK
}

// readResult reads a result file: meshdock's (-o json) or fortio's JSON.
func readResult(name string) (benchOutput, error) {
	var out benchOutput
	f, err := os.Open(name)
	if err != nil {
		return out, meshdock.Errorf(meshdock.EINVALID, "%s cannot be read: %v", name, unwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return out, meshdock.Errorf(meshdock.EINVALID, "%s cannot be read: %v", name, err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return out, meshdock.Errorf(meshdock.EINVALID, "%s is not a JSON result: %v", name, err)
	}
	switch {
	case probe["fortio"] != nil:
		if err := json.Unmarshal(data, &out); err != nil {
			return out, meshdock.Errorf(meshdock.EINVALID, "%s: %v", name, err)
		}
	case probe["RunType"] != nil:
		var res fhttp.HTTPRunnerResults
		if err := json.Unmarshal(data, &res); err != nil {
			return out, meshdock.Errorf(meshdock.EINVALID, "%s: %v", name, err)
		}
		out.Fortio = &res
	case probe["smp_version"] != nil:
		return out, meshdock.Errorf(meshdock.EINVALID, "%s is an SMP result: compare reads meshdock's (-o json) or fortio's JSON, which keep the histogram", name)
	default:
		return out, meshdock.Errorf(meshdock.EINVALID, "%s is neither meshdock's result (-o json) nor fortio's JSON", name)
	}
	if out.Fortio == nil || out.Fortio.DurationHistogram == nil {
		return out, meshdock.Errorf(meshdock.EINVALID, "%s has no latencies", name)
	}
	if out.Benchmark == nil {
		out.Benchmark = &meshdock.Benchmark{ID: name, Target: out.Fortio.URL, Mesh: "unknown"}
	}
	return out, nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func printComparison(w io.Writer, c *bench.Comparison) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tA: %s\tB: %s\tB-A\tB/A-1\t\n", c.A.Mesh, c.B.Mesh)
	for _, r := range c.Rows {
		name := r.Metric
		if r.Unit != "" {
			name += " (" + r.Unit + ")"
		}
		rel := "-"
		if r.Relative != nil && !math.IsInf(*r.Relative, 0) {
			rel = fmt.Sprintf("%+.1f%%", *r.Relative*100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", name, num(r.A), num(r.B), signed(r.Diff), rel)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nmesh cost (B over A): %+.3f ms per request (mean), p50 %+.3f ms, p99 %+.3f ms", c.Cost.LatencyAddedMs, c.Cost.P50AddedMs, c.Cost.P99AddedMs)
	if t := c.Cost.ThroughputLostPct; t != nil && *t >= 0 {
		fmt.Fprintf(w, ", throughput %.1f%% lower", *t)
	} else if t != nil {
		fmt.Fprintf(w, ", throughput %.1f%% higher", -*t)
	}
	fmt.Fprintf(w, ", %+d errors\n", c.Cost.ErrorsAdded)
	fmt.Fprintf(w, "A: %s\nB: %s\n", c.A.Target, c.B.Target)
	for _, n := range c.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e12 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func signed(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e12 {
		return fmt.Sprintf("%+.0f", v)
	}
	return fmt.Sprintf("%+.3f", v)
}
