package backend_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/backend"
)

type sseEvent struct{ ID, Type, Data string }

// sseStream reads server-sent events; comments arrive as events of type ":".
type sseStream struct {
	resp *http.Response
	r    *bufio.Reader
}

func (ts *testServer) events(t *testing.T, opID string, lastID string) *sseStream {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/operations/"+opID+"/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sseStream{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next event or comment; ok is false at the end of the stream.
func (s *sseStream) next(t *testing.T) (ev sseEvent, ok bool) {
	t.Helper()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, false
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				return ev, true
			}
		case strings.HasPrefix(line, ":"):
			return sseEvent{Type: ":"}, true
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.Type = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.Data = line[6:]
		}
	}
}

// skipRetry reads past the stream's opening retry field.
func (s *sseStream) nextEvent(t *testing.T) (sseEvent, bool) {
	for {
		ev, ok := s.next(t)
		if !ok || ev.Type != "" || ev.ID != "" {
			return ev, ok
		}
	}
}

func TestOperationEventsResume(t *testing.T) {
	ts := startServer(t, "", func(c *backend.Config, _ *backend.Listener) { c.Heartbeat = 50 * time.Millisecond })
	release := make(chan struct{})
	op, err := ts.StartOperation(context.Background(), "test", "", func(ctx context.Context, emit func(string, any) error) error {
		for i := 1; i <= 3; i++ {
			if err := emit("progress", map[string]int{"step": i}); err != nil {
				return err
			}
		}
		<-release
		return emit("progress", map[string]int{"step": 4})
	})
	if err != nil {
		t.Fatal(err)
	}
	a := ts.get(t, "/api/v1/operations/"+op.ID)
	var got struct{ ID, Kind, State string }
	a.decode(t, &got)
	if a.Status != 200 || got.ID != op.ID || got.Kind != "test" || got.State != "running" {
		t.Fatalf("operation: %d %s", a.Status, a.Body)
	}

	s := ts.events(t, op.ID, "")
	for i := 1; i <= 3; i++ {
		ev, ok := s.nextEvent(t)
		if !ok || ev.Type != "progress" || ev.ID != string(rune('0'+i)) || !strings.Contains(ev.Data, `"step":`+string(rune('0'+i))) {
			t.Fatalf("event %d: %+v %v", i, ev, ok)
		}
	}
	// Idle: heartbeats keep the stream open.
	if ev, _ := s.nextEvent(t); ev.Type != ":" {
		t.Fatalf("expected a heartbeat comment, got %+v", ev)
	}
	s.resp.Body.Close()

	// Reconnect after event 2: event 3 comes again, then the rest.
	s = ts.events(t, op.ID, "2")
	if ev, _ := s.nextEvent(t); ev.ID != "3" {
		t.Fatalf("resumed at %+v, want id 3", ev)
	}
	close(release)
	var types []string
	for {
		ev, ok := s.nextEvent(t)
		if !ok {
			break
		}
		if ev.Type != ":" {
			types = append(types, ev.ID+":"+ev.Type)
		}
	}
	if strings.Join(types, ",") != "4:progress,5:end" {
		t.Fatalf("events after release: %v", types)
	}
	a = ts.get(t, "/api/v1/operations/"+op.ID)
	a.decode(t, &got)
	if got.State != "succeeded" {
		t.Fatalf("state after the work: %s", a.Body)
	}
	// A finished operation replays its log and ends; past the end, it ends at once.
	s = ts.events(t, op.ID, "")
	n := 0
	for ev, ok := s.nextEvent(t); ok; ev, ok = s.nextEvent(t) {
		n++
		_ = ev
	}
	if n != 5 {
		t.Fatalf("replay gave %d events, want 5", n)
	}
	s = ts.events(t, op.ID, "99")
	if ev, ok := s.nextEvent(t); ok {
		t.Fatalf("stream past the end sent %+v", ev)
	}
}

func TestOperationFailures(t *testing.T) {
	ts := startServer(t, "")
	cases := []struct {
		err         error
		state, want string
	}{
		{meshdock.Errorf(meshdock.EUNAVAILABLE, "the cluster is down"), "failed", "the cluster is down"},
		{errors.New("secret detail"), "failed", "internal error"},
		{context.Canceled, "canceled", "canceled"},
	}
	for _, c := range cases {
		op, err := ts.StartOperation(context.Background(), "test", "", func(context.Context, func(string, any) error) error { return c.err })
		if err != nil {
			t.Fatal(err)
		}
		s := ts.events(t, op.ID, "")
		var last sseEvent
		for ev, ok := s.nextEvent(t); ok; ev, ok = s.nextEvent(t) {
			last = ev
		}
		if last.Type != "end" || !strings.Contains(last.Data, `"state":"`+c.state+`"`) || !strings.Contains(last.Data, c.want) {
			t.Errorf("%v: last event %+v", c.err, last)
		}
	}
	op, _ := ts.StartOperation(context.Background(), "test", "", func(context.Context, func(string, any) error) error { panic("boom") })
	s := ts.events(t, op.ID, "")
	var last sseEvent
	for ev, ok := s.nextEvent(t); ok; ev, ok = s.nextEvent(t) {
		last = ev
	}
	if !strings.Contains(last.Data, `"state":"failed"`) || !strings.Contains(last.Data, "internal error") {
		t.Errorf("a panicking operation ended with %+v", last)
	}
}

// TestShutdownInterruptsOperations stops the server while an operation runs
// and a client follows it: the stream ends, the operation is interrupted,
// and a new server on the same data sees it so.
func TestShutdownInterruptsOperations(t *testing.T) {
	data := t.TempDir()
	ts := startServer(t, data)
	started := make(chan struct{})
	op, err := ts.StartOperation(context.Background(), "deploy", "", func(ctx context.Context, emit func(string, any) error) error {
		emit("progress", "started")
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	s := ts.events(t, op.ID, "")
	if ev, _ := s.nextEvent(t); ev.Type != "progress" {
		t.Fatalf("first event %+v", ev)
	}
	ended := make(chan struct{})
	go func() {
		for _, ok := s.next(t); ok; _, ok = s.next(t) {
		}
		close(ended)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream did not end on shutdown")
	}
	if _, err := ts.StartOperation(context.Background(), "x", "", nil); meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE {
		t.Fatalf("starting an operation while stopping: %v", err)
	}
	ts.stop()

	ts2 := startServer(t, data)
	a := ts2.get(t, "/api/v1/operations/"+op.ID)
	var got struct{ State, Error string }
	a.decode(t, &got)
	if got.State != "interrupted" || got.Error == "" {
		t.Fatalf("operation after restart: %s", a.Body)
	}
}
