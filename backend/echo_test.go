package backend_test

import (
	"mime/multipart"
	"strings"
	"testing"

	"github.com/meshdock/meshdock/backend"
)

// TestEchoedValuesAreCut: an answer that repeats what the client sent (an
// id, a header, a field) repeats at most a short piece of it.
func TestEchoedValuesAreCut(t *testing.T) {
	ts := startServer(t, "")
	long := strings.Repeat("x", 20000)
	app := ts.importFiles(t, "echo", map[string]string{"compose.yaml": composeYAML})
	var mp strings.Builder
	mw := multipart.NewWriter(&mp)
	mw.WriteField(long, "v")
	mw.Close()
	var mpEnv strings.Builder
	mw2 := multipart.NewWriter(&mpEnv)
	mw2.WriteField("env", long)
	mw2.Close()
	for _, c := range []struct {
		name, method, path, ctype, body string
		header                          []string
		status                          int
	}{
		{"app id", "GET", "/api/v1/apps/" + long, "", "", nil, 404},
		{"app id, manifests", "GET", "/api/v1/apps/" + long + "/manifests", "", "", nil, 404},
		{"app id, graph", "GET", "/api/v1/apps/" + long + "/graph", "", "", nil, 404},
		{"app id, warnings", "GET", "/api/v1/apps/" + long + "/warnings", "", "", nil, 404},
		{"app id, delete", "DELETE", "/api/v1/apps/" + long, "", "", nil, 404},
		{"operation id", "GET", "/api/v1/operations/" + long, "", "", nil, 404},
		{"operation id, events", "GET", "/api/v1/operations/" + long + "/events", "", "", nil, 404},
		{"format", "GET", "/api/v1/apps/" + app.ID + "/manifests?format=" + long, "", "", nil, 400},
		{"Last-Event-ID", "GET", "/api/v1/operations/x/events", "", "", []string{"Last-Event-ID", long}, 400},
		{"Host", "GET", "/api/v1/apps", "", "", []string{"Host", long + ".localhost"}, 403},
		{"Origin", "POST", "/api/v1/apps", "application/json", "{}", []string{"Origin", "http://" + long}, 403},
		{"content type", "POST", "/api/v1/apps", "text/" + long, "{}", nil, 415},
		{"JSON field", "POST", "/api/v1/apps", "application/json", `{"` + long + `":1}`, nil, 400},
		{"form field", "POST", "/api/v1/apps", mw.FormDataContentType(), mp.String(), nil, 400},
		{"form env", "POST", "/api/v1/apps", mw2.FormDataContentType(), mpEnv.String(), nil, 400},
		{"name", "POST", "/api/v1/apps", "application/json", `{"name":"` + long + `!","files":[{"name":"compose.yaml","content":"services: {}"}]}`, nil, 400},
		{"namespace", "POST", "/api/v1/apps", "application/json", `{"namespace":"` + long + `","files":[{"name":"compose.yaml","content":"services: {}"}]}`, nil, 400},
		{"file name", "POST", "/api/v1/apps", "application/json", `{"files":[{"name":"compose.yaml","content":"services: {}"},{"name":"` + long + `","content":""}]}`, nil, 400},
		{"dir", "POST", "/api/v1/apps", "application/json", `{"dir":"/` + long + `"}`, nil, 400},
		{"env name", "POST", "/api/v1/apps", "application/json", `{"env":{"` + long + `=":"v"},"files":[{"name":"compose.yaml","content":"services: {}"}]}`, nil, 400},
		{"profile", "POST", "/api/v1/apps", "application/json", `{"profiles":["` + long + `!"],"files":[{"name":"compose.yaml","content":"services: {}"}]}`, nil, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body *strings.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			hdr := append([]string{}, c.header...)
			if c.method != "GET" && len(hdr) == 0 {
				hdr = []string{backend.ClientHeader, "1"}
			}
			var a answer
			if body != nil {
				a = ts.do(t, c.method, c.path, c.ctype, body, hdr...)
			} else {
				a = ts.do(t, c.method, c.path, c.ctype, nil, hdr...)
			}
			code, msg := a.errorOf(t)
			if a.Status != c.status || code == "" {
				t.Fatalf("%d %s", a.Status, a.Body)
			}
			if len(msg) > 400 || strings.Contains(msg, strings.Repeat("x", 200)) {
				t.Fatalf("the message repeats %d bytes: %.300s", len(msg), msg)
			}
		})
	}
}
