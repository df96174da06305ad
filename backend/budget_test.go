package backend_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshdock/meshdock/backend"
	"github.com/meshdock/meshdock/engine"
)

// A small request cannot hold the server: projects over a limit are
// refused before the expensive step, at once, with the limit named, and
// the server's memory returns to what it was.
func TestWorkBombsRefusedEarly(t *testing.T) {
	ts := startServer(t, "")
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range 25000 {
		fmt.Fprintf(&b, "  s%d: {image: x}\n", i)
	}
	manyServices := b.String()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()

	// Five at once, as the review sent them: all refused, none times out.
	start := time.Now()
	var wg sync.WaitGroup
	answers := make([]answer, 5)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Not a timing test: a slow machine (or the race detector)
			// may take its time, and is not failed for it.
			a, err := ts.postWithin(2*time.Minute, filesBody("compose.yaml", manyServices))
			if err != nil {
				t.Error(err)
			}
			answers[i] = a
		}()
	}
	wg.Wait()
	refused := 0
	for _, a := range answers {
		code, msg := a.errorOf(t)
		switch {
		case a.Status == http.StatusRequestEntityTooLarge && code == "too_large" && strings.Contains(msg, "compose.yaml:1002: more than 1000 services: at most 1000 are accepted"):
			refused++
		case a.Status == http.StatusServiceUnavailable && strings.Contains(msg, "busy"): // more than the import slots at once
		default:
			t.Errorf("25,000 services: %d %s", a.Status, a.Body)
		}
	}
	if refused < 4 {
		t.Errorf("%d of 5 uploads were refused for their size", refused)
	}
	t.Logf("five 25,000-service uploads answered in %v", time.Since(start).Round(time.Millisecond))

	for name, c := range map[string]struct {
		compose string
		status  int
		want    string
	}{
		"port-range bomb": {`services: {a: {image: x, ports: ["1-65535:1-65535/tcp","1-65535:1-65535/udp","1-65535:1-65535/sctp"]}}`,
			http.StatusRequestEntityTooLarge, "at most 2000 are accepted"},
		"replicas past int32": {"services: {a: {image: x, deploy: {replicas: 2147483648}}}", http.StatusBadRequest,
			"compose.yaml:1: services.a.deploy.replicas: 2147483648 is out of range"},
		"replicas 2^62": {"services: {a: {image: x, deploy: {replicas: 4611686018427387904}}}", http.StatusBadRequest,
			"4611686018427387904 is out of range"},
		"scale past uint32":    {"services: {a: {image: x, scale: 4294967297}}", http.StatusBadRequest, "services.a.scale: 4294967297 is out of range"},
		"anchor amplification": {"services:\n" + aliasServices(1000, 200), http.StatusRequestEntityTooLarge, "YAML nodes"},
	} {
		a, err := ts.post(filesBody("compose.yaml", c.compose))
		if err != nil {
			t.Fatal(err)
		}
		if _, msg := a.errorOf(t); a.Status != c.status || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %s, want %d and %q", name, a.Status, a.Body, c.status, c.want)
		}
	}
	if apps := ts.do(t, "GET", "/api/v1/apps", "", nil); !strings.Contains(string(apps.Body), `"apps":[]`) {
		t.Errorf("a refused import left an app: %s", apps.Body)
	}
	if grown := int64(heap()) - int64(before); grown > 32<<20 {
		t.Errorf("the heap grew by %d MiB after refused imports", grown>>20)
	}
}

// aliasServices writes n services that each repeat an anchor of size
// variables.
func aliasServices(n, size int) string {
	var b strings.Builder
	b.WriteString("  base:\n    image: x\n    environment: &env\n")
	for i := range size {
		fmt.Fprintf(&b, "      V%d: v\n", i)
	}
	for i := range n - 1 {
		fmt.Fprintf(&b, "  s%d: {image: x, environment: *env}\n", i)
	}
	return b.String()
}

// stubbornEngine blocks an import in a step that does not listen to its
// context, as compose-go and kompose do not.
type stubbornEngine struct{ blockingEngine }

func (e stubbornEngine) Projects(context.Context) ([]engine.Project, error) {
	e.started <- struct{}{}
	<-e.release
	return nil, nil
}

// The deadline holds even when a step cannot be interrupted: the client is
// answered in time, the step keeps its slot until it ends, then the slot
// is free again.
func TestImportDeadlineAnswersInTime(t *testing.T) {
	eng := stubbornEngine{newBlockingEngine()}
	ts := startServer(t, "", withEngine(eng), withLimits(backend.Limits{Imports: 1, ImportTimeout: 200 * time.Millisecond}))
	release := sync.OnceFunc(func() { close(eng.release) })
	t.Cleanup(release)
	start := time.Now()
	a, err := ts.post(`{"project":"shop"}`)
	if err != nil {
		t.Fatal(err)
	}
	if code, msg := a.errorOf(t); a.Status != http.StatusServiceUnavailable || code != "unavailable" || !strings.Contains(msg, "did not finish within 200ms") {
		t.Fatalf("stuck import: %d %s", a.Status, a.Body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("answered after %v", d)
	}
	if a, _ := ts.post(filesBody("compose.yaml", composeYAML)); a.Status != http.StatusServiceUnavailable || !strings.Contains(string(a.Body), "busy") {
		t.Fatalf("the stuck step's slot was given away: %d %s", a.Status, a.Body)
	}
	release()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, err := ts.post(filesBody("compose.yaml", composeYAML))
		if err == nil && a.Status == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot was not freed: %v %d %s", err, a.Status, a.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// postWithin is post with a client that waits up to d.
func (ts *testServer) postWithin(d time.Duration, body string) (answer, error) {
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/apps", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(backend.ClientHeader, "1")
	resp, err := (&http.Client{Timeout: d}).Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}, err
}
