// Package bench runs load tests with fortio as a library and reports them
// as fortio's JSON and as Service Mesh Performance (SMP) results.
package bench

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	"fortio.org/fortio/stats"
	"fortio.org/log"
	"golang.org/x/net/http/httpguts"

	"github.com/meshdock/meshdock"
)

// Bounds of one load test.
const (
	MaxDuration    = 10 * time.Minute
	MaxConnections = 1024
	MaxQPS         = 1_000_000
	// DefaultDuration is a test's length when it names none.
	DefaultDuration = 10 * time.Second
	// MaxBody is the largest request body (the in-cluster load generator
	// gets it as one argument), MaxHeaders and MaxPercentiles the most
	// headers and percentiles a test may name.
	MaxBody        = 64 << 10
	MaxHeaders     = 50
	MaxPercentiles = 20
	// overrun is how long a run may take beyond its duration before it is
	// stopped, whatever fortio computed.
	overrun = 30 * time.Second
)

// method is an HTTP method: a token of capitals.
var method = regexp.MustCompile(`^[A-Z]{1,20}$`)

// DefaultPercentiles are the percentiles a test reports when it names none.
var DefaultPercentiles = []float64{50, 75, 90, 99, 99.9}

// Options are one load test.
type Options struct {
	URL string
	// QPS is the requests per second asked for; 0 is as fast as possible.
	QPS         float64
	Connections int
	Duration    time.Duration
	Method      string
	Headers     []string // "Name: value"
	Body        []byte
	Percentiles []float64
	// H2 speaks HTTP/2 (h2c on http URLs).
	H2 bool
	// QuitURL, for the load generator in a pod, is asked (POST) when the
	// test ends: a mesh proxy's shutdown endpoint on loopback, so the pod
	// can end (Consul's dataplane does not end with the pod's container).
	QuitURL string
	// Pinned, when set, is the address the URL's host is taken to be
	// (PinLoopback sets it).
	Pinned string
	// Progress, when set, is called about once a second with the run so
	// far.
	Progress func(Progress)
}

// Progress is a running test so far.
type Progress struct {
	Elapsed  time.Duration `json:"elapsed"`
	Requests int64         `json:"requests"`
	QPS      float64       `json:"qps"`
	P50ms    float64       `json:"p50Ms"`
	P99ms    float64       `json:"p99Ms"`
	Errors   int64         `json:"errors"`
}

// Check refuses a test that cannot run, before any load: a URL that is
// not http or https, a duration of zero or more than MaxDuration, too many
// connections, a negative QPS.
func (o *Options) Check() error {
	u, err := url.Parse(o.URL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return meshdock.Errorf(meshdock.EINVALID, "url %s: give an http:// or https:// URL with a host", meshdock.Quote(o.URL, 100))
	case u.Port() != "" && !validPort(u.Port()):
		return meshdock.Errorf(meshdock.EINVALID, "url %s: the port must be from 1 to 65535", meshdock.Quote(o.URL, 100))
	case o.Duration <= 0 || o.Duration > MaxDuration:
		return meshdock.Errorf(meshdock.EINVALID, "duration must be more than 0 and at most %s, not %s", MaxDuration, o.Duration)
	case o.Connections < 1 || o.Connections > MaxConnections:
		return meshdock.Errorf(meshdock.EINVALID, "connections must be between 1 and %d, not %d", MaxConnections, o.Connections)
	case o.QPS < 0 || o.QPS > MaxQPS:
		return meshdock.Errorf(meshdock.EINVALID, "qps must be between 0 (as fast as possible) and %d, not %g", MaxQPS, o.QPS)
	case o.QPS > 0 && o.QPS*o.Duration.Seconds() < 2*float64(o.Connections):
		// fortio would stretch the run past its duration, or use fewer
		// connections than asked, to make two requests per connection.
		return meshdock.Errorf(meshdock.EINVALID, "qps %g over %s makes fewer than 2 requests per connection (%d): raise the qps or the duration, or use fewer connections", o.QPS, o.Duration, o.Connections)
	case o.Method != "" && !method.MatchString(strings.ToUpper(o.Method)):
		return meshdock.Errorf(meshdock.EINVALID, "method %s: an HTTP method is letters only (GET, POST...)", meshdock.Quote(o.Method, 30))
	case len(o.Body) > MaxBody:
		return meshdock.Errorf(meshdock.EINVALID, "body: at most %d KiB", MaxBody>>10)
	case len(o.Headers) > MaxHeaders:
		return meshdock.Errorf(meshdock.EINVALID, "headers: at most %d", MaxHeaders)
	}
	if o.QuitURL != "" {
		q, err := url.Parse(o.QuitURL)
		if err != nil || q.Scheme != "http" || (q.Hostname() != "127.0.0.1" && q.Hostname() != "localhost") {
			return meshdock.Errorf(meshdock.EINVALID, "quit url %s: give an http:// URL on 127.0.0.1", meshdock.Quote(o.QuitURL, 100))
		}
	}
	for _, h := range o.Headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || !httpguts.ValidHeaderFieldName(strings.TrimSpace(k)) || !httpguts.ValidHeaderFieldValue(strings.TrimSpace(v)) {
			return meshdock.Errorf(meshdock.EINVALID, "header %s: write it Name: value (a name of letters, digits and -, a value without control characters)", meshdock.Quote(h, 60))
		}
	}
	return CheckPercentiles(o.Percentiles)
}

// CheckPercentiles refuses percentiles a test cannot report: too many,
// one outside (0, 100), one given twice.
func CheckPercentiles(ps []float64) error {
	if len(ps) > MaxPercentiles {
		return meshdock.Errorf(meshdock.EINVALID, "percentiles: at most %d", MaxPercentiles)
	}
	seen := map[float64]bool{}
	for _, p := range ps {
		if p <= 0 || p >= 100 {
			return meshdock.Errorf(meshdock.EINVALID, "percentiles must be between 0 and 100 (exclusive), not %g", p)
		}
		if seen[p] {
			return meshdock.Errorf(meshdock.EINVALID, "percentiles: %g is given twice", p)
		}
		seen[p] = true
	}
	return nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// Resolve checks that the URL's host resolves, and returns its
// addresses.
func (o *Options) Resolve(ctx context.Context) ([]string, error) {
	u, _ := url.Parse(o.URL)
	if ip := net.ParseIP(u.Hostname()); ip != nil {
		return []string{ip.String()}, nil
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(rctx, u.Hostname())
	if err != nil || len(addrs) == 0 {
		return nil, meshdock.Errorf(meshdock.EINVALID, "url %s: host %s does not resolve", meshdock.Quote(o.URL, 100), meshdock.QuoteName(u.Hostname()))
	}
	return addrs, nil
}

// PinLoopback refuses a URL whose host is not on this machine (every
// address it resolves to on loopback) and pins the test to the address
// checked, so that a name cannot resolve elsewhere once the test runs.
func (o *Options) PinLoopback(ctx context.Context) error {
	addrs, err := o.Resolve(ctx)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			return meshdock.Errorf(meshdock.EFORBIDDEN, "url %s: the server load-tests only addresses of this machine (loopback), not %s; run the test in the cluster, or with meshdock bench from a terminal", meshdock.Quote(o.URL, 100), meshdock.QuoteName(a))
		}
	}
	// fortio writes the address before ":port": an IPv6 one in brackets.
	if ip := net.ParseIP(addrs[0]); ip != nil && ip.To4() == nil {
		o.Pinned = "[" + ip.String() + "]"
	} else {
		o.Pinned = addrs[0]
	}
	return nil
}

// live keeps the run's latencies as they come, for progress: one
// histogram per connection, each with its own lock, so that connections do
// not wait for each other; they are merged once a second.
type live struct {
	threads []liveThread
}

// progressScale is the progress histograms': a tenth of a millisecond.
var progressScale = [2]float64{0, 0.0001}

type liveThread struct {
	mu     sync.Mutex
	hist   *stats.Histogram
	errors int64
}

func newLive(threads int) *live {
	l := &live{threads: make([]liveThread, threads)}
	for i := range l.threads {
		l.threads[i].hist = stats.NewHistogram(progressScale[0], progressScale[1])
	}
	return l
}

func (l *live) Start(ctx context.Context, _ periodic.ThreadID, _ int64, _ time.Time) context.Context {
	return ctx
}

func (l *live) Report(_ context.Context, t periodic.ThreadID, _ int64, _ time.Time, latency float64, ok bool, _ string) {
	th := &l.threads[int(t)%len(l.threads)]
	th.mu.Lock()
	th.hist.Record(latency)
	if !ok {
		th.errors++
	}
	th.mu.Unlock()
}

// snapshot is the run so far: every connection's latencies merged.
func (l *live) snapshot() (*stats.HistogramData, int64) {
	var hs []*stats.HistogramData
	var errs int64
	for i := range l.threads {
		th := &l.threads[i]
		th.mu.Lock()
		hs = append(hs, th.hist.Export())
		errs += th.errors
		th.mu.Unlock()
	}
	return MergeHistograms(hs, progressScale, []float64{50, 99}), errs
}

func (l *live) Info() string { return "meshdock progress" }

// Run runs a load test until its duration ends or ctx is canceled; a
// canceled run returns what it measured so far, with ctx's error.
func Run(ctx context.Context, o Options) (*fhttp.HTTPRunnerResults, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	if o.Pinned == "" {
		if _, err := o.Resolve(ctx); err != nil {
			return nil, err
		}
	}
	percentiles := o.Percentiles
	if len(percentiles) == 0 {
		percentiles = DefaultPercentiles
	}
	stop := periodic.NewAborter()
	l := newLive(o.Connections)
	ro := fhttp.HTTPRunnerOptions{}
	ro.RunnerOptions = periodic.RunnerOptions{QPS: o.QPS, Duration: o.Duration, NumThreads: o.Connections, Percentiles: percentiles,
		Stop: stop, Out: discard{}}
	if o.Progress != nil {
		ro.AccessLogger = l // a cost per request: only when progress is asked for
	}
	if o.QPS == 0 {
		ro.QPS = -1 // fortio's "as fast as possible"
	}
	ro.URL = o.URL
	ro.H2 = o.H2
	ro.Resolve = o.Pinned
	ro.Payload = o.Body
	if o.Method != "" {
		ro.MethodOverride = strings.ToUpper(o.Method)
	}
	for _, h := range o.Headers {
		if err := ro.AddAndValidateExtraHeader(h); err != nil {
			return nil, meshdock.Errorf(meshdock.EINVALID, "header %s: %v", meshdock.Quote(h, 60), err)
		}
	}
	ro.AllowInitialErrors = true
	// The run is stopped at its bound whatever fortio computed.
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, o.Duration+overrun)
	defer cancel()
	done := make(chan struct{})
	var reporter sync.WaitGroup
	reporter.Add(1)
	go func() {
		defer reporter.Done()
		start := time.Now()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				stop.Abort(false)
				return
			case <-done:
				return
			case <-tick.C:
				if o.Progress != nil {
					d, errs := l.snapshot()
					el := time.Since(start)
					p := Progress{Elapsed: el, Requests: d.Count, QPS: float64(d.Count) / el.Seconds(), Errors: errs}
					if len(d.Percentiles) == 2 {
						p.P50ms, p.P99ms = d.Percentiles[0].Value*1000, d.Percentiles[1].Value*1000
					}
					o.Progress(p)
				}
			}
		}
	}()
	res, err := fhttp.RunHTTPTest(&ro)
	close(done)
	reporter.Wait() // no progress after the result
	if err != nil {
		return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "load test of %s: %v", meshdock.Quote(o.URL, 100), err)
	}
	if res.DurationHistogram == nil || res.DurationHistogram.Count == 0 {
		return res, meshdock.Errorf(meshdock.EUNAVAILABLE, "load test of %s: no request was made", meshdock.Quote(o.URL, 100))
	}
	if parent.Err() == nil && ctx.Err() != nil {
		return res, meshdock.Errorf(meshdock.EUNAVAILABLE, "load test of %s: still running %s after its duration, stopped", meshdock.Quote(o.URL, 100), overrun)
	}
	return res, parent.Err()
}

// fortio logs each run's start and end, and each failed connection, on
// stderr: meshdock reports runs itself, and counts failed connections as
// socket errors (-1) rather than flooding a server's log with a line each.
func init() { log.SetLogLevelQuiet(log.Critical) }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// ErrorsByCode returns the non-2xx answers by status code ("-1" is a
// connection or socket error).
func ErrorsByCode(res *fhttp.HTTPRunnerResults) map[string]int64 {
	out := map[string]int64{}
	for code, n := range res.RetCodes {
		if code < 200 || code > 299 {
			out[fmt.Sprint(code)] += n
		}
	}
	return out
}
