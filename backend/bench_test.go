package backend_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/meshdock/meshdock/backend"
)

// BenchmarkImport measures a convert-and-store request over a real listener
// and store: POST /api/v1/apps with the example shop app (five services, a
// secret, a config, an env file). It reports the p50 and p99 latencies.
func BenchmarkImport(b *testing.B) {
	ts := startServer(b, "")
	var req backend.ImportRequest
	for _, f := range []string{".env", "compose.yaml", "worker.env", "secrets/db_password.txt", "web/default.conf"} {
		content, err := os.ReadFile(filepath.Join("../examples/shop", f))
		if err != nil {
			b.Skipf("the example app is not there: %v", err)
		}
		req.Files = append(req.Files, backend.FileUpload{Name: f, Content: string(content)})
	}
	body, _ := json.Marshal(req)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		req, _ := http.NewRequest("POST", ts.URL+"/api/v1/apps", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(backend.ClientHeader, "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("import: %d", resp.StatusCode)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(ms(lat[len(lat)/2]), "ms-p50")
	b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), "ms-p99")
}

// BenchmarkGetApp measures reading one stored app back.
func BenchmarkGetApp(b *testing.B) {
	ts := startServer(b, "")
	app := ts.importFiles(b, "bench", map[string]string{"compose.yaml": composeYAML})
	b.ResetTimer()
	for range b.N {
		resp, err := http.Get(ts.URL + "/api/v1/apps/" + app.ID)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
