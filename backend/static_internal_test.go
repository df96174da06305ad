package backend

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/labstack/echo/v4"
)

// The UI's routes answer the same paths whether the UI was built or not:
// the page at / and /index.html, assets under /assets/ only, however the
// path is written; without a build the page says how to build it.
func TestUIFilesBuiltOrNot(t *testing.T) {
	built := fstest.MapFS{
		"index.html":      {Data: []byte("<!doctype html><title>meshdock</title>")},
		"assets/index.js": {Data: []byte("console.log(1)")},
		".keep":           {Data: nil},
	}
	unbuilt := fstest.MapFS{".keep": {Data: nil}}
	refused := []string{"/.keep", "/nope.js", "/assets/nope.js", "/assets/../.keep", "/assets/..", "/assets/%2e%2e/index.html", "/assets/index.html", "/assets/../index.html", "/assets/./../index.html"}
	for _, c := range []struct {
		name  string
		files fstest.MapFS
		ok    map[string]string
		gone  []string
	}{
		{"built", built, map[string]string{"/": "<title>meshdock", "/index.html": "<title>meshdock", "/assets/index.js": "console.log"}, nil},
		{"not built", unbuilt, map[string]string{"/": "make ui", "/index.html": "make ui"}, []string{"/assets/index.js"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := echo.New()
			for _, p := range []string{"/", "/index.html", "/assets/*"} {
				e.GET(p, func(ec echo.Context) error { return serveFiles(ec, c.files) })
			}
			get := func(p string) *httptest.ResponseRecorder {
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+p, nil)
				e.ServeHTTP(w, r)
				return w
			}
			for p, want := range c.ok {
				if w := get(p); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) || w.Header().Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("%s: %d %q", p, w.Code, w.Body.String())
				}
			}
			for _, p := range append(refused, c.gone...) {
				if w := get(p); w.Code != http.StatusNotFound {
					t.Errorf("%s: %d", p, w.Code)
				}
			}
		})
	}
}
