package bench

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fortio.org/fortio/fhttp"

	"github.com/meshdock/meshdock"
)

func server(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

func TestRunFixedDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3 s load test")
	}
	url := server(t, func(w http.ResponseWriter, _ *http.Request) { time.Sleep(5 * time.Millisecond) })
	var progress []Progress
	var res *fhttp.HTTPRunnerResults
	var smp SMPResult
	// A loaded machine can delay a request's goroutine: up to three runs,
	// each said, before the p50 counts as wrong.
	for try := 1; try <= 3; try++ {
		progress = nil
		var err error
		res, err = Run(context.Background(), Options{URL: url, Connections: 4, Duration: 3 * time.Second, Progress: func(p Progress) { progress = append(progress, p) }})
		if err != nil {
			t.Fatal(err)
		}
		smp = ToSMP("t1", res, Mesh{}, nil)
		if math.Abs(smp.LatenciesMs.P50-5) <= 1 {
			break
		}
		if t.Logf("run %d: p50 %.2f ms against a 5 ms server", try, smp.LatenciesMs.P50); try == 3 {
			t.Errorf("p50 %.2f ms against a 5 ms server", smp.LatenciesMs.P50)
		}
	}
	// SMP is fortio's numbers in milliseconds.
	h := res.DurationHistogram
	for name, c := range map[string][2]float64{"min": {smp.LatenciesMs.Min, h.Min}, "max": {smp.LatenciesMs.Max, h.Max}, "average": {smp.LatenciesMs.Average, h.Avg},
		"p99": {smp.LatenciesMs.P99, h.CalcPercentile(99)}} {
		if math.Abs(c[0]-c[1]*1000) > 1e-9 {
			t.Errorf("%s: SMP %.4f ms, fortio %.6f s", name, c[0], c[1])
		}
	}
	if smp.SMPVersion == "" || smp.ID != "t1" || smp.StartTime.IsZero() || !smp.EndTime.After(smp.StartTime) || smp.ActualQPS <= 0 ||
		smp.ConcurrentRequest != 4 || smp.EndpointURL != url || !strings.HasPrefix(smp.LoadGenerator, "fortio") || smp.MeshType != "none" ||
		smp.DetailedResults.Requests != h.Count || len(smp.DetailedResults.Histogram) == 0 || !strings.Contains(smp.DetailedResults.Note, "coordinated omission") {
		t.Errorf("SMP result: %+v", smp)
	}
	if len(progress) < 2 || progress[len(progress)-1].Requests == 0 || math.Abs(progress[len(progress)-1].P50ms-5) > 2 {
		t.Errorf("progress: %+v", progress)
	}
}

func TestRunErrorsByCode(t *testing.T) {
	var n atomic.Int64
	url := server(t, func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	res, err := Run(context.Background(), Options{URL: url, Connections: 2, Duration: 500 * time.Millisecond, QPS: 200})
	if err != nil {
		t.Fatal(err)
	}
	errs := ErrorsByCode(res)
	total := res.DurationHistogram.Count
	if errs["503"] < total/2-2 || errs["503"] > total/2+2 || len(errs) != 1 {
		t.Errorf("errors %v of %d requests", errs, total)
	}
	if smp := ToSMP("x", res, Mesh{Type: "istio", Version: "1.32.0"}, nil); smp.DetailedResults.Errors["503"] != errs["503"] || smp.MeshType != "istio" || smp.QPS != 200 {
		t.Errorf("SMP: %+v", smp)
	}
}

func TestRunCancel(t *testing.T) {
	url := server(t, func(http.ResponseWriter, *http.Request) { time.Sleep(time.Millisecond) })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	res, err := Run(ctx, Options{URL: url, Connections: 2, Duration: time.Minute})
	took := time.Since(start)
	if !errors.Is(err, context.Canceled) || res == nil || res.DurationHistogram.Count == 0 {
		t.Fatalf("canceled run: %v, %+v", err, res)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("the run stopped %s after it began, %s after the cancel", took, took-500*time.Millisecond)
	}
}

func TestRunQPS(t *testing.T) {
	if testing.Short() {
		t.Skip("a 2 s load test")
	}
	url := server(t, func(http.ResponseWriter, *http.Request) {})
	for try := 1; try <= 3; try++ {
		res, err := Run(context.Background(), Options{URL: url, Connections: 4, Duration: 2 * time.Second, QPS: 400})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(res.ActualQPS-400)/400 <= 0.05 {
			break
		}
		if t.Logf("run %d: %.1f QPS, asked for 400", try, res.ActualQPS); try == 3 {
			t.Errorf("%.1f QPS, asked for 400", res.ActualQPS)
		}
	}
}

func TestOptionsRefused(t *testing.T) {
	good := Options{URL: "http://127.0.0.1:1/", Connections: 1, Duration: time.Second}
	for _, c := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.URL = "ftp://127.0.0.1/" }, "http:// or https://"},
		{func(o *Options) { o.URL = "http://" }, "http:// or https://"},
		{func(o *Options) { o.Duration = 0 }, "duration"},
		{func(o *Options) { o.Duration = -time.Second }, "duration"},
		{func(o *Options) { o.Duration = 11 * time.Minute }, "at most 10m0s"},
		{func(o *Options) { o.Connections = 100000 }, "connections"},
		{func(o *Options) { o.QPS = -1 }, "qps"},
		{func(o *Options) { o.Headers = []string{"nocolon"} }, "Name: value"},
		{func(o *Options) { o.Percentiles = []float64{100} }, "percentiles"},
	} {
		o := good
		c.edit(&o)
		if err := o.Check(); meshdock.ErrorCode(err) != meshdock.EINVALID || !strings.Contains(meshdock.ErrorMessage(err), c.want) {
			t.Errorf("%+v: %v, want %q", o, err, c.want)
		}
	}
	o := good
	o.URL = "http://no-such-host.invalid/"
	if _, err := Run(context.Background(), o); meshdock.ErrorCode(err) != meshdock.EINVALID || !strings.Contains(meshdock.ErrorMessage(err), "does not resolve") {
		t.Errorf("unresolvable host: %v", err)
	}
}

// HTTP/2 without TLS (h2c) where fortio speaks it: every request arrives
// as HTTP/2.
func TestRunH2C(t *testing.T) {
	var h1, h2 atomic.Int64
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2.Add(1)
		} else {
			h1.Add(1)
		}
	}))
	s.Config.Protocols = new(http.Protocols)
	s.Config.Protocols.SetHTTP1(true)
	s.Config.Protocols.SetUnencryptedHTTP2(true)
	s.Start()
	defer s.Close()
	res, err := Run(context.Background(), Options{URL: s.URL, Connections: 2, Duration: 500 * time.Millisecond, H2: true})
	if err != nil || res.DurationHistogram.Count == 0 {
		t.Fatal(err)
	}
	if h2.Load() == 0 || h1.Load() != 0 {
		t.Errorf("HTTP/2 %d, HTTP/1 %d requests", h2.Load(), h1.Load())
	}
	if _, err := Run(context.Background(), Options{URL: s.URL, Connections: 1, Duration: 300 * time.Millisecond}); err != nil || h1.Load() == 0 {
		t.Errorf("HTTP/1.1: %v, %d requests", err, h1.Load())
	}
}

// A host name that resolves to IPv6 loopback is pinned in brackets, as
// fortio writes it before the port: both of its clients reach it.
func TestPinLoopbackIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	s.Listener = l
	s.Config.Protocols = new(http.Protocols)
	s.Config.Protocols.SetHTTP1(true)
	s.Config.Protocols.SetUnencryptedHTTP2(true)
	s.Start()
	defer s.Close()
	for _, h2 := range []bool{false, true} {
		o := Options{URL: s.URL, Connections: 1, Duration: 300 * time.Millisecond, H2: h2}
		if err := o.PinLoopback(context.Background()); err != nil || o.Pinned != "[::1]" {
			t.Fatalf("pinned %q: %v", o.Pinned, err)
		}
		res, err := Run(context.Background(), o)
		if err != nil || len(ErrorsByCode(res)) != 0 {
			t.Errorf("h2 %v: %v, errors %v", h2, err, ErrorsByCode(res))
		}
	}
}
