package backend_test

import (
	"net/http"
	"strings"
	"testing"
)

// The UI is served outside the API with headers that keep it to itself;
// an unknown API path is still the API's JSON 404.
func TestServesTheUI(t *testing.T) {
	ts := startServer(t, "")
	r := ts.get(t, "/")
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || r.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(string(r.Body), "meshdock") {
		t.Fatalf("/: %d %v %s", r.Status, r.Header, r.Body)
	}
	if r := ts.get(t, "/api/v1/nope"); r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), `"code":"not_found"`) {
		t.Errorf("/api/v1/nope: %d %s", r.Status, r.Body)
	}
	if r := ts.get(t, "/api/v1/health"); r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("the API's answers: %v", r.Header)
	}
	for _, p := range []string{"/.keep", "/nope.js", "/assets/nope.js", "/assets/../.keep", "//api/v1/apps", "/assets/..", "/assets/%2e%2e/index.html", "/assets/index.html"} {
		if r := ts.get(t, p); r.Status != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.Status)
		}
	}
	if r := ts.do(t, "POST", "/", "text/plain", strings.NewReader("x")); r.Status != http.StatusMethodNotAllowed && r.Status != http.StatusNotFound {
		t.Errorf("POST /: %d", r.Status)
	}
}
