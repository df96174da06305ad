package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/bench"
)

func init() {
	commands["loadgen"] = command{summary: "Run one load test and print fortio's JSON result (the in-cluster load generator)", run: runLoadgen}
}

// loadFlags are one load test's flags, shared by bench and loadgen; the
// in-cluster Job passes them to loadgen by these names (bench.Args).
type loadFlags struct {
	url         string
	qps         float64
	connections int
	duration    time.Duration
	method      string
	headers     headerFlags
	body        string
	percentiles string
	h2          bool
	quitURL     string
}

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func (l *loadFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.url, "url", "", "target URL (http:// or https://)")
	fs.Float64Var(&l.qps, "qps", 0, "requests per second, all connections together; 0 is as fast as possible")
	fs.IntVar(&l.connections, "connections", 4, fmt.Sprintf("parallel connections (1 to %d)", bench.MaxConnections))
	fs.IntVar(&l.connections, "c", 4, "same as --connections")
	fs.DurationVar(&l.duration, "duration", bench.DefaultDuration, fmt.Sprintf("how long the test runs (at most %s)", bench.MaxDuration))
	fs.DurationVar(&l.duration, "t", bench.DefaultDuration, "same as --duration")
	fs.StringVar(&l.method, "method", "", "HTTP method (default GET, or POST with a body)")
	fs.Var(&l.headers, "H", "extra header 'Name: value' (repeatable)")
	fs.StringVar(&l.body, "body", "", "request body")
	fs.StringVar(&l.percentiles, "percentiles", "", "percentiles to report, comma separated (default 50,75,90,99,99.9)")
	fs.BoolVar(&l.h2, "h2", false, "speak HTTP/2 (h2c on http:// URLs)")
}

// options are the test the flags name.
func (l *loadFlags) options() (bench.Options, error) {
	o := bench.Options{URL: l.url, QPS: l.qps, Connections: l.connections, Duration: l.duration,
		Method: l.method, Headers: l.headers, H2: l.h2, QuitURL: l.quitURL}
	if l.body != "" {
		o.Body = []byte(l.body)
	}
	ps, err := l.percentileList()
	if err != nil {
		return o, err
	}
	o.Percentiles = ps
	return o, o.Check()
}

// percentileList parses --percentiles (a comma-separated list).
func (l *loadFlags) percentileList() ([]float64, error) {
	if l.percentiles == "" {
		return nil, nil
	}
	var ps []float64
	for _, f := range strings.Split(l.percentiles, ",") {
		p, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, meshdock.Errorf(meshdock.EINVALID, "--percentiles: %s is not a number", meshdock.Quote(f, 20))
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// runLoadgen runs one test where it is started (in the cluster, the Job's
// pod) and prints fortio's JSON on stdout; a stopped pod (SIGTERM) or an
// interrupt prints what was measured so far.
func runLoadgen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var lf loadFlags
	lf.register(fs)
	fs.StringVar(&lf.quitURL, "quit-url", "", "when the test ends, POST to this URL on 127.0.0.1 (a mesh proxy's shutdown endpoint)")
	progress := fs.Bool("progress", false, "print the run so far each second on stderr ("+strings.TrimSpace(bench.ProgressPrefix)+" JSON lines)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meshdock loadgen --url URL [--qps N] [-c N] [-t D] [--method M] [-H 'Name: value']... [--body B] [--percentiles 50,99] [--h2]")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	o, err := lf.options()
	if err != nil {
		fmt.Fprintf(stderr, "meshdock loadgen: %s\n", meshdock.ErrorMessage(err))
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *progress {
		o.Progress = func(p bench.Progress) { fmt.Fprintln(stderr, bench.FormatProgress(p)) }
	}
	res, err := bench.Run(ctx, o)
	if res != nil {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(res); werr != nil && err == nil {
			err = werr
		}
	}
	if o.QuitURL != "" {
		quit(o.QuitURL, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshdock loadgen: %s\n", meshdock.ErrorMessage(err))
		return exitCode(err)
	}
	return exitOK
}

// quit asks a mesh proxy next to the load generator to end, so its pod
// ends; a proxy that is not there is said, not an error of the test.
func quit(u string, stderr io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err == nil {
		var res *http.Response
		if res, err = http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshdock loadgen: the proxy's shutdown (%s) did not answer: %v\n", u, err)
	}
}
