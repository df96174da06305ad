package backend_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/meshdock/meshdock/backend"
)

// TestConcurrentRequests sends 200 requests at once, imports and reads
// mixed; run with -race.
func TestConcurrentRequests(t *testing.T) {
	// All the imports at once: this test is about races, not the limit.
	ts := startServer(t, "", func(c *backend.Config, _ *backend.Listener) { c.Limits.Imports = 200 / 5 })
	seed := ts.importFiles(t, "seed", map[string]string{"compose.yaml": composeYAML})
	const total = 200
	var wg sync.WaitGroup
	errs := make(chan error, total)
	start := make(chan struct{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: total}}
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var req *http.Request
			want := http.StatusOK
			switch i % 5 {
			case 0: // an import
				body, _ := json.Marshal(backend.ImportRequest{Name: fmt.Sprintf("app-%d", i),
					Files: []backend.FileUpload{{Name: "compose.yaml", Content: composeYAML}}})
				req, _ = http.NewRequest("POST", ts.URL+"/api/v1/apps", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(backend.ClientHeader, "1")
				want = http.StatusCreated
			case 1:
				req, _ = http.NewRequest("GET", ts.URL+"/api/v1/apps", nil)
			case 2:
				req, _ = http.NewRequest("GET", ts.URL+"/api/v1/apps/"+seed.ID, nil)
			case 3:
				req, _ = http.NewRequest("GET", ts.URL+"/api/v1/apps/"+seed.ID+"/manifests?format=json", nil)
			case 4:
				req, _ = http.NewRequest("GET", ts.URL+"/api/v1/health", nil)
			}
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				errs <- fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var list struct{ Apps []struct{ Name string } }
	ts.get(t, "/api/v1/apps").decode(t, &list)
	if len(list.Apps) != 1+total/5 {
		t.Fatalf("%d apps stored, want %d", len(list.Apps), 1+total/5)
	}
}

// TestRestartKeepsApps stops the server and starts another on the same data.
func TestRestartKeepsApps(t *testing.T) {
	data := t.TempDir()
	ts := startServer(t, data)
	var ids []string
	var manifests [][]byte
	for i := range 3 {
		app := ts.importFiles(t, fmt.Sprintf("app-%d", i), map[string]string{"compose.yaml": composeYAML})
		ids = append(ids, app.ID)
		manifests = append(manifests, ts.get(t, "/api/v1/apps/"+app.ID+"/manifests").Body)
	}
	list := ts.get(t, "/api/v1/apps").Body
	ts.stop()

	ts = startServer(t, data)
	if got := ts.get(t, "/api/v1/apps").Body; !bytes.Equal(got, list) {
		t.Fatalf("apps after restart:\n%s\nbefore:\n%s", got, list)
	}
	for i, id := range ids {
		if got := ts.get(t, "/api/v1/apps/"+id+"/manifests").Body; !bytes.Equal(got, manifests[i]) {
			t.Fatalf("manifests of %s changed across the restart", id)
		}
	}
}
