package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/meshdock/meshdock/bench"
)

// The in-cluster Job runs `meshdock loadgen` with bench.Args: those flags
// read back as the same test.
func TestLoadgenReadsTheJobsArgs(t *testing.T) {
	for _, o := range []bench.Options{
		{URL: "http://web.shop.svc.cluster.local:80/x?y=1", QPS: 250.5, Connections: 8, Duration: 90 * time.Second},
		{URL: "https://api.shop.svc.cluster.local:443/", Connections: 1, Duration: time.Second, Method: "POST", Headers: []string{"A: b", "X-Y: z, w"},
			Body: []byte(`{"k": "v --url x"}`), Percentiles: []float64{50, 99.99}, H2: true, QuitURL: "http://127.0.0.1:20600/graceful_shutdown"},
	} {
		fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var lf loadFlags
		lf.register(fs)
		fs.StringVar(&lf.quitURL, "quit-url", "", "")
		if err := fs.Parse(bench.Args(o)); err != nil || fs.NArg() > 0 {
			t.Fatalf("%v: %v %v", bench.Args(o), err, fs.Args())
		}
		got, err := lf.options()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, o) {
			t.Errorf("args %q read back as\n%+v, want\n%+v", bench.Args(o), got, o)
		}
	}
}

func TestBenchCommand(t *testing.T) {
	var n atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%4 == 0 {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer target.Close()
	dir := t.TempDir()
	runIt := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"bench"}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	// Table, with the progress lines on a non-terminal.
	code, out, errOut := runIt("--url", target.URL, "-c", "2", "-t", "1500ms")
	if code != exitOK || !strings.Contains(out, "latency (ms)") || !strings.Contains(out, "502: ") || !strings.Contains(out, "coordinated omission") ||
		!strings.Contains(errOut, "requests") {
		t.Fatalf("table: exit %d\n%s\n%s", code, out, errOut)
	}
	// -o json is what compare reads; fortio's JSON too.
	code, out, errOut = runIt("--url", target.URL, "-c", "2", "-t", "1s", "-o", "json", "--label", "run=a")
	if code != exitOK {
		t.Fatalf("json: %d %s", code, errOut)
	}
	var res benchOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Benchmark.Summary.Requests == 0 || res.Fortio.DurationHistogram.Count != res.Benchmark.Summary.Requests || res.Benchmark.Spec.Labels["run"] != "a" {
		t.Fatalf("json: %v %s", err, out)
	}
	a := filepath.Join(dir, "a.json")
	os.WriteFile(a, []byte(out), 0o644)
	code, out, _ = runIt("--url", target.URL, "-c", "2", "-t", "1s", "-o", "fortio")
	b := filepath.Join(dir, "b.json")
	os.WriteFile(b, []byte(out), 0o644)
	if code != exitOK || !strings.Contains(out, `"RunType": "HTTP"`) {
		t.Fatalf("fortio: %d %s", code, out)
	}
	code, out, _ = runIt("--url", target.URL, "-c", "1", "-t", "1s", "-o", "smp")
	var smp bench.SMPResult
	if err := yaml.Unmarshal([]byte(out), &smp); code != exitOK || err != nil || smp.SMPVersion != bench.SMPVersion || smp.LatenciesMs.P50 <= 0 || smp.DetailedResults.Errors["502"] == 0 {
		t.Fatalf("smp: %d %v %s", code, err, out)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "compare", a, b}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "p99.9 (ms)") || !strings.Contains(stdout.String(), "mesh cost") {
		t.Fatalf("compare: %d %s %s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"bench", "compare", "-o", "json", a, b}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), `"rows"`) {
		t.Fatalf("compare json: %d %s", code, stdout.String())
	}
	smpFile := filepath.Join(dir, "smp.yaml")
	os.WriteFile(smpFile, []byte(`{"smp_version":"v0.6.0"}`), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--url", "ftp://127.0.0.1/"}, exitError, "http:// or https://"},
		{[]string{"--url", "http://no-such-host.invalid/", "-t", "1s"}, exitError, "does not resolve"},
		{[]string{"--url", target.URL, "-t", "0s"}, exitError, "duration"},
		{[]string{"--url", target.URL, "-t", "11m"}, exitError, "at most 10m"},
		{[]string{"--url", target.URL, "-c", "5000"}, exitError, "connections"},
		{[]string{"--url", target.URL, "--pods", "2"}, exitError, "in the cluster"},
		{[]string{"--url", target.URL, "-o", "xml"}, exitUsage, "-o must be"},
		{[]string{"--url", target.URL, "--percentiles", "50,x"}, exitUsage, "percentiles"},
		{[]string{}, exitError, "name the target"},
		{[]string{"compare", a}, exitUsage, "Usage"},
		{[]string{"compare", a, filepath.Join(dir, "none.json")}, exitError, "cannot be read"},
		{[]string{"compare", a, smpFile}, exitError, "SMP result"},
	} {
		code, _, errOut := runIt(c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("bench %q: exit %d %s, want %d with %q", c.args, code, errOut, c.code, c.want)
		}
		if strings.Contains(errOut, dir) && !strings.Contains(strings.Join(c.args, " "), dir) {
			t.Errorf("bench %q names a path it was not given: %s", c.args, errOut)
		}
	}
}

// loadgen prints fortio's JSON, which bench.ParseResult reads back from a
// log with other lines around it.
func TestLoadgenCommand(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"loadgen", "--url", target.URL, "-c", "2", "-t", "2100ms", "--qps", "100", "--progress"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("loadgen: %d %s", code, stderr.String())
	}
	// Progress each second on stderr, which the in-cluster run follows.
	var progress []bench.Progress
	for _, line := range strings.Split(stderr.String(), "\n") {
		if p, ok := bench.ParseProgress(line); ok {
			progress = append(progress, p)
		}
	}
	if len(progress) != 2 || progress[1].Requests < progress[0].Requests || progress[1].QPS < 50 {
		t.Errorf("progress lines: %+v\n%s", progress, stderr.String())
	}
	log := "W> a warning first\n" + stdout.String() + "meshdock loadgen: a line after\n"
	res, err := bench.ParseResult([]byte(log))
	if err != nil || res.DurationHistogram.Count < 50 || res.RequestedQPS != "100" || res.NumThreads != 2 {
		t.Fatalf("parsed: %v %+v", err, res)
	}
	if _, err := bench.ParseResult([]byte("exec /meshdock: no such file\n")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a log without a result: %v", err)
	}
	if code := run([]string{"loadgen", "--url", target.URL, "--quit-url", "http://10.0.0.1/"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("quit url off loopback: %d", code)
	}
}
