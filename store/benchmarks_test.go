package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/store"
)

func TestBenchmarksKeptWithTheirResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meshdock.db")
	db := open(t, path)
	ctx := context.Background()
	b := &meshdock.Benchmark{Spec: meshdock.BenchmarkSpec{Service: "web.shop:80/", Connections: 4, Duration: meshdock.Duration(5 * time.Second), InCluster: true, Pods: 2,
		Labels: map[string]string{"k": "v"}}, State: meshdock.BenchRunning, Target: "http://web.shop.svc.cluster.local:80/", Mesh: "linkerd", MeshVersion: "edge-26.8.3"}
	if err := db.CreateBenchmark(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := db.BenchmarkResult(ctx, b.ID); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Fatalf("result before the end: %v", err)
	}
	b.State, b.OperationID = meshdock.BenchDone, "op1"
	b.Summary = &meshdock.BenchSummary{Requests: 10, QPS: 2, P50Ms: 1.5, Errors: map[string]int64{"503": 1}}
	if err := db.UpdateBenchmark(ctx, b, []byte(`{"RunType":"HTTP"}`)); err != nil {
		t.Fatal(err)
	}
	// A state update without a result keeps the result.
	b.Message = "noted"
	if err := db.UpdateBenchmark(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = open(t, path)
	got, err := db.Benchmark(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != meshdock.BenchDone || got.OperationID != "op1" || got.Mesh != "linkerd" || got.MeshVersion != "edge-26.8.3" || got.Summary.Errors["503"] != 1 ||
		got.Spec.Pods != 2 || time.Duration(got.Spec.Duration) != 5*time.Second || got.Spec.Labels["k"] != "v" || got.Message != "noted" {
		t.Fatalf("read back: %+v", got)
	}
	if res, err := db.BenchmarkResult(ctx, b.ID); err != nil || string(res) != `{"RunType":"HTTP"}` {
		t.Fatalf("result: %s %v", res, err)
	}
	if err := db.UpdateBenchmark(ctx, &meshdock.Benchmark{ID: "nope"}, nil); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Errorf("update of none: %v", err)
	}
	if err := db.DeleteBenchmark(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Benchmark(ctx, b.ID); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Errorf("deleted: %v", err)
	}
}

// The store keeps the newest MaxBenchmarks results; a test running when
// the server went away is failed on the next start, as its operation is
// interrupted.
func TestBenchmarksHistoryBoundedAndInterrupted(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "meshdock.db"))
	ctx := context.Background()
	var first, last *meshdock.Benchmark
	for i := 0; i < store.MaxBenchmarks+3; i++ {
		b := &meshdock.Benchmark{Spec: meshdock.BenchmarkSpec{URL: "http://127.0.0.1/"}, State: meshdock.BenchDone, Mesh: "none"}
		if err := db.CreateBenchmark(ctx, b); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		}
		last = b
	}
	list, err := db.Benchmarks(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != store.MaxBenchmarks || list[0].ID != last.ID {
		t.Fatalf("%d kept, newest %s (want %d, %s)", len(list), list[0].ID, store.MaxBenchmarks, last.ID)
	}
	if _, err := db.Benchmark(ctx, first.ID); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Errorf("the oldest is kept: %v", err)
	}
	if l, _ := db.Benchmarks(ctx, 3); len(l) != 3 {
		t.Errorf("limit 3: %d", len(l))
	}
	running := &meshdock.Benchmark{Spec: meshdock.BenchmarkSpec{URL: "http://127.0.0.1/"}, State: meshdock.BenchRunning, Mesh: "none"}
	if err := db.CreateBenchmark(ctx, running); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InterruptRunning(ctx, "the server stopped while it ran"); err != nil {
		t.Fatal(err)
	}
	got, _ := db.Benchmark(ctx, running.ID)
	if got.State != meshdock.BenchFailed || got.Message != "the server stopped while it ran" {
		t.Errorf("after a restart: %+v", got)
	}
}

func TestProfiles(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "meshdock.db"))
	ctx := context.Background()
	p := &meshdock.BenchProfile{Name: "quick", Spec: meshdock.BenchmarkSpec{Service: "web", QPS: 100, Duration: meshdock.Duration(time.Second)}}
	if err := db.SaveProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	created := p.CreatedAt
	p.Spec.QPS = 200
	if err := db.SaveProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	if !p.CreatedAt.Equal(created) || p.Spec.QPS != 200 {
		t.Errorf("replaced: %+v (created %s)", p, created)
	}
	if err := db.SaveProfile(ctx, &meshdock.BenchProfile{Name: "another", Spec: meshdock.BenchmarkSpec{URL: "http://127.0.0.1/"}}); err != nil {
		t.Fatal(err)
	}
	list, err := db.Profiles(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "another" || list[1].Spec.QPS != 200 {
		t.Fatalf("profiles: %+v %v", list, err)
	}
	if err := db.DeleteProfile(ctx, "quick"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Profile(ctx, "quick"); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Errorf("deleted: %v", err)
	}
	if err := db.DeleteProfile(ctx, "quick"); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Errorf("deleted twice: %v", err)
	}
}

func TestProfilesBounded(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "meshdock.db"))
	ctx := context.Background()
	for i := 0; i < store.MaxProfiles; i++ {
		if err := db.SaveProfile(ctx, &meshdock.BenchProfile{Name: fmt.Sprint("p", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SaveProfile(ctx, &meshdock.BenchProfile{Name: "one more"}); meshdock.ErrorCode(err) != meshdock.ECONFLICT || !strings.Contains(err.Error(), "delete one first") {
		t.Fatalf("one more: %v", err)
	}
	// Replacing one is not one more.
	if err := db.SaveProfile(ctx, &meshdock.BenchProfile{Name: "p7", Spec: meshdock.BenchmarkSpec{QPS: 9}}); err != nil {
		t.Fatal(err)
	}
}
