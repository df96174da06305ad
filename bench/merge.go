package bench

import (
	"fmt"
	"math"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	"fortio.org/fortio/stats"

	"github.com/meshdock/meshdock"
)

// Scales of fortio's HTTP histograms (offset, divider): durations in
// seconds at a millisecond's resolution, body and header sizes in bytes.
var (
	durationScale = [2]float64{0, periodic.DefaultRunnerOptions.Resolution}
	sizeScale     = [2]float64{0, 100}
	headerScale   = [2]float64{0, 5}
)

// Merge combines the results of load generators that ran side by side
// into one: histograms merged bucket by bucket (so the percentiles are
// those of every request together, not an average of percentiles), status
// codes and sockets summed, QPS summed, the run from the first start to
// the last end.
func Merge(runs ...*fhttp.HTTPRunnerResults) (*fhttp.HTTPRunnerResults, error) {
	var in []*fhttp.HTTPRunnerResults
	for _, r := range runs {
		if r != nil && r.DurationHistogram != nil {
			in = append(in, r)
		}
	}
	switch len(in) {
	case 0:
		return nil, meshdock.Errorf(meshdock.EINVALID, "no result to merge")
	case 1:
		return in[0], nil
	}
	first := in[0]
	out := &fhttp.HTTPRunnerResults{RetCodes: map[int]int64{}, IPCountMap: map[string]int{}}
	out.RunnerResults = first.RunnerResults
	out.HTTPOptions = first.HTTPOptions
	out.AbortOn = first.AbortOn
	var percentiles []float64
	for _, p := range first.DurationHistogram.Percentiles {
		percentiles = append(percentiles, p.Percentile)
	}
	var qps, requested float64
	anyMax := false
	end := first.StartTime.Add(first.ActualDuration)
	var durations, errs, sizes, headers, conns []*stats.HistogramData
	for _, r := range in {
		if r.URL != first.URL {
			return nil, meshdock.Errorf(meshdock.EINVALID, "results of different targets (%s and %s) cannot be merged", meshdock.Quote(first.URL, 100), meshdock.Quote(r.URL, 100))
		}
		if r.StartTime.Before(out.StartTime) {
			out.StartTime = r.StartTime
		}
		if e := r.StartTime.Add(r.ActualDuration); e.After(end) {
			end = e
		}
		qps += r.ActualQPS
		q := requestedQPS(r)
		if q == 0 {
			anyMax = true
		}
		requested += q
		if r != first {
			out.NumThreads += r.NumThreads
		}
		for code, n := range r.RetCodes {
			out.RetCodes[code] += n
		}
		for ip, n := range r.IPCountMap {
			out.IPCountMap[ip] += n
		}
		out.Sockets = append(out.Sockets, r.Sockets...)
		out.SocketCount += r.SocketCount
		durations = append(durations, r.DurationHistogram)
		errs = append(errs, r.ErrorsDurationHistogram)
		sizes = append(sizes, r.Sizes)
		headers = append(headers, r.HeaderSizes)
		conns = append(conns, r.ConnectionStats)
	}
	out.ActualQPS = qps
	out.ActualDuration = end.Sub(out.StartTime).Round(time.Millisecond)
	out.RequestedQPS = "max"
	if !anyMax {
		out.RequestedQPS = fmt.Sprint(requested)
	}
	out.DurationHistogram = MergeHistograms(durations, durationScale, percentiles)
	out.ErrorsDurationHistogram = MergeHistograms(errs, durationScale, percentiles)
	out.Sizes = MergeHistograms(sizes, sizeScale, nil)
	out.HeaderSizes = MergeHistograms(headers, headerScale, nil)
	out.ConnectionStats = MergeHistograms(conns, durationScale, percentiles)
	return out, nil
}

// MergeHistograms merges fortio histograms of one scale (offset, divider)
// as fortio would have recorded all their samples in one: each bucket's
// count goes to the same bucket, count, sum, min and max combine exactly,
// and the standard deviation combines from each one's.
func MergeHistograms(hs []*stats.HistogramData, scale [2]float64, percentiles []float64) *stats.HistogramData {
	h := stats.NewHistogram(scale[0], scale[1])
	var count int64
	var sum, squares float64
	min, max := math.Inf(1), math.Inf(-1)
	for _, d := range hs {
		if d == nil || d.Count == 0 {
			continue
		}
		// A bucket's middle falls in the bucket it was counted in: the
		// first starts at the minimum and the last ends at the maximum,
		// both inside their buckets.
		for _, b := range d.Data {
			h.RecordN((b.Start+b.End)/2, int(b.Count))
		}
		count += d.Count
		sum += d.Sum
		squares += float64(d.Count)*d.StdDev*d.StdDev + d.Sum*d.Sum/float64(d.Count)
		min, max = math.Min(min, d.Min), math.Max(max, d.Max)
	}
	if count == 0 {
		return stats.NewHistogram(scale[0], scale[1]).Export()
	}
	h.Count, h.Sum, h.Min, h.Max = count, sum, min, max
	out := h.Export()
	n := float64(count)
	out.StdDev = math.Sqrt(math.Max(0, (squares-sum*sum/n)/n))
	return out.CalcPercentiles(percentiles)
}
