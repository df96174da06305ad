package bench

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	"fortio.org/fortio/stats"
)

// A merged result of two runs equals fortio's statistics over the union
// of their samples.
func TestMergeEqualsTheUnion(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pct := []float64{50, 75, 90, 99, 99.9}
	for trial := 0; trial < 20; trial++ {
		a := stats.NewHistogram(durationScale[0], durationScale[1])
		b := stats.NewHistogram(durationScale[0], durationScale[1])
		all := stats.NewHistogram(durationScale[0], durationScale[1])
		// Latencies from 0.1 ms to tens of seconds, the second run slower.
		for i := 0; i < 500+rng.IntN(5000); i++ {
			v := rng.ExpFloat64() * 0.004 * float64(trial+1)
			a.Record(v)
			all.Record(v)
		}
		for i := 0; i < 1+rng.IntN(3000); i++ {
			v := 0.0001 + rng.ExpFloat64()*0.02*float64(trial+1)
			b.Record(v)
			all.Record(v)
		}
		run := func(h *stats.Histogram, start time.Time, threads int, codes map[int]int64) *fhttp.HTTPRunnerResults {
			r := &fhttp.HTTPRunnerResults{RetCodes: codes}
			r.RunnerResults = periodic.RunnerResults{StartTime: start, ActualDuration: time.Second, NumThreads: threads,
				RequestedQPS: "max", ActualQPS: float64(h.Count), DurationHistogram: h.Export().CalcPercentiles(pct)}
			r.URL = "http://127.0.0.1:8080/"
			return r
		}
		t0 := time.Unix(1700000000, 0)
		ra := run(a, t0, 4, map[int]int64{200: a.Count - 3, 503: 3})
		rb := run(b, t0.Add(200*time.Millisecond), 2, map[int]int64{200: b.Count, -1: 0})
		m, err := Merge(ra, rb)
		if err != nil {
			t.Fatal(err)
		}
		want := all.Export().CalcPercentiles(pct)
		got := m.DurationHistogram
		near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(y)) }
		if got.Count != want.Count || got.Min != want.Min || got.Max != want.Max || !near(got.Sum, want.Sum) || !near(got.Avg, want.Avg) || !near(got.StdDev, want.StdDev) {
			t.Fatalf("trial %d: merged %+v, union %+v", trial, summary(got), summary(want))
		}
		if len(got.Data) != len(want.Data) {
			t.Fatalf("trial %d: %d buckets, union has %d", trial, len(got.Data), len(want.Data))
		}
		for i := range want.Data {
			g, w := got.Data[i], want.Data[i]
			if g.Count != w.Count || !near(g.Start, w.Start) || !near(g.End, w.End) || !near(g.Percent, w.Percent) {
				t.Fatalf("trial %d bucket %d: merged %+v, union %+v", trial, i, g, w)
			}
		}
		for i, p := range want.Percentiles {
			if !near(got.Percentiles[i].Value, p.Value) || got.Percentiles[i].Percentile != p.Percentile {
				t.Fatalf("trial %d: p%g merged %g, union %g", trial, p.Percentile, got.Percentiles[i].Value, p.Value)
			}
		}
		if m.RetCodes[200] != a.Count-3+b.Count || m.RetCodes[503] != 3 || m.NumThreads != 6 {
			t.Fatalf("codes %v threads %d", m.RetCodes, m.NumThreads)
		}
		if m.ActualQPS != float64(a.Count+b.Count) || m.ActualDuration != 1200*time.Millisecond || !m.StartTime.Equal(t0) {
			t.Fatalf("qps %g duration %s start %s", m.ActualQPS, m.ActualDuration, m.StartTime)
		}
	}
}

func summary(h *stats.HistogramData) []float64 {
	return []float64{float64(h.Count), h.Min, h.Max, h.Sum, h.Avg, h.StdDev}
}

func TestMergeRefusesOtherTargets(t *testing.T) {
	a := &fhttp.HTTPRunnerResults{}
	a.DurationHistogram = &stats.HistogramData{Count: 1}
	a.URL = "http://a/"
	b := &fhttp.HTTPRunnerResults{}
	b.DurationHistogram = &stats.HistogramData{Count: 1}
	b.URL = "http://b/"
	if _, err := Merge(a, b); err == nil {
		t.Fatal("merged results of two targets")
	}
	if _, err := Merge(); err == nil {
		t.Fatal("merged nothing")
	}
}

func TestProgressLines(t *testing.T) {
	p := Progress{Elapsed: 3 * time.Second, Requests: 300, QPS: 100, P50ms: 1.5, P99ms: 9, Errors: 2}
	got, ok := ParseProgress(FormatProgress(p) + "\n")
	if !ok || got != p {
		t.Fatalf("read back %+v %v", got, ok)
	}
	for _, line := range []string{"", "{", "meshdock-progress nope", "W> warning"} {
		if _, ok := ParseProgress(line); ok {
			t.Errorf("%q read as progress", line)
		}
	}
	sum := SumProgress([]Progress{p, {Elapsed: 2 * time.Second, Requests: 100, QPS: 50, P50ms: 3, P99ms: 4, Errors: 1}})
	if sum != (Progress{Elapsed: 3 * time.Second, Requests: 400, QPS: 150, P50ms: 3, P99ms: 9, Errors: 3}) {
		t.Errorf("sum %+v", sum)
	}
}

// SMP names each percentile as asked, in milliseconds.
func TestSMPPercentileKeys(t *testing.T) {
	h := stats.NewHistogram(durationScale[0], durationScale[1])
	for i := 1; i <= 1000; i++ {
		h.Record(float64(i) / 1e5)
	}
	r := &fhttp.HTTPRunnerResults{}
	r.DurationHistogram = h.Export().CalcPercentiles([]float64{50, 99.9, 99.9999, 99.99991, 99.99992})
	smp := ToSMP("x", r, Mesh{}, nil)
	for _, k := range []string{"p50", "p99.9", "p99.9999", "p99.99991", "p99.99992"} {
		if _, ok := smp.DetailedResults.Percentiles[k]; !ok {
			t.Errorf("no %s in %v", k, smp.DetailedResults.Percentiles)
		}
	}
	if v := smp.DetailedResults.Percentiles["p50"]; v != r.DurationHistogram.Percentiles[0].Value*1000 {
		t.Errorf("p50 %g ms, fortio %g s", v, r.DurationHistogram.Percentiles[0].Value)
	}
}
