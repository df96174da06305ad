package backend_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/meshdock/meshdock/backend"
)

// The events of an operation as JSON, for clients without streams: all
// of them after an id, a wait that ends with the first new one, done with
// the end event, and past the end at once.
func TestOperationLog(t *testing.T) {
	ts := startServer(t, "")
	target := loopbackTarget(t, 0)
	var started benchAnswer
	ts.postJSON(t, "/api/v1/benchmarks", map[string]any{"url": target, "duration": "2s", "connections": 1}).decode(t, &started)
	type logAnswer struct {
		Events []struct {
			Seq  int64
			Type string
			Data json.RawMessage
		}
		Done bool
	}
	var seen []string
	after := int64(0)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		var a logAnswer
		r := ts.get(t, "/api/v1/operations/"+started.Operation.ID+"/log?wait=5s&lastEventId="+itoa(after))
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		r.decode(t, &a)
		for _, e := range a.Events {
			if e.Seq != after+1 {
				t.Fatalf("event %d after %d", e.Seq, after)
			}
			after = e.Seq
			seen = append(seen, e.Type)
		}
		if a.Done {
			break
		}
		if len(a.Events) == 0 {
			t.Fatal("a wait ended with nothing while the operation runs")
		}
	}
	if len(seen) < 3 || seen[0] != "progress" || seen[len(seen)-1] != "end" || seen[len(seen)-2] != "result" {
		t.Fatalf("events: %v", seen)
	}
	t0 := time.Now()
	var past logAnswer
	ts.get(t, "/api/v1/operations/"+started.Operation.ID+"/log?wait=20s&lastEventId="+itoa(after)).decode(t, &past)
	if !past.Done || len(past.Events) != 0 || time.Since(t0) > time.Second {
		t.Errorf("past the end: %+v after %s", past, time.Since(t0))
	}
	for q, want := range map[string]int{"wait=1h": 400, "wait=x": 400, "lastEventId=-1": 400} {
		if r := ts.get(t, "/api/v1/operations/"+started.Operation.ID+"/log?"+q); r.Status != want {
			t.Errorf("%s: %d", q, r.Status)
		}
	}
	if r := ts.get(t, "/api/v1/operations/nope/log"); r.Status != http.StatusNotFound {
		t.Errorf("unknown operation: %d", r.Status)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// Waiting polls count as streams: past the bound one is refused as busy,
// and a poll that does not wait always answers.
func TestOperationLogBounded(t *testing.T) {
	ts := startServer(t, "", withLimits(backend.Limits{Streams: 2, OpStreams: 2}))
	op, err := ts.StartOperation(t.Context(), "test", "", func(ctx context.Context, _ func(string, any) error) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 2)
	for i := 0; i < 2; i++ {
		go func() {
			res, err := http.Get(ts.URL + "/api/v1/operations/" + op.ID + "/log?wait=3s")
			if err != nil {
				done <- 0
				return
			}
			res.Body.Close()
			done <- res.StatusCode
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if r := ts.get(t, "/api/v1/operations/"+op.ID+"/log?wait=3s"); r.Status != http.StatusServiceUnavailable {
		t.Errorf("a third waiting poll: %d %s", r.Status, r.Body)
	}
	if r := ts.get(t, "/api/v1/operations/"+op.ID+"/log"); r.Status != http.StatusOK {
		t.Errorf("a poll that does not wait: %d %s", r.Status, r.Body)
	}
	t0 := time.Now()
	if r := ts.do(t, "HEAD", "/api/v1/operations/"+op.ID+"/log?wait=20s", "", nil); r.Status != http.StatusOK || time.Since(t0) > time.Second {
		t.Errorf("HEAD waited %s: %d", time.Since(t0), r.Status)
	}
	// A client that leaves frees its place at once.
	for i := 0; i < 4; i++ {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/operations/"+op.ID+"/log?wait=10s&lastEventId=1000", nil)
		_, _ = http.DefaultClient.Do(req)
		cancel()
	}
	for i := 0; i < 2; i++ {
		if code := <-done; code != http.StatusOK {
			t.Errorf("a waiting poll ended with %d", code)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if r := ts.get(t, "/api/v1/operations/"+op.ID+"/log?wait=1s&lastEventId=1000"); r.Status != http.StatusOK {
		t.Errorf("after the clients left: %d %s", r.Status, r.Body)
	}
	_ = ts.CancelOperation(t.Context(), op.ID)
}
