package backend_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshdock/meshdock/backend"
)

// TestHostileRequests sends requests no client should send, by hand, on
// the port and on the socket: each must get a clear answer (a JSON error
// with a code, or what the request rightly asks for) within a few seconds,
// without a path of the server, without changing the store, and the
// server must still answer afterwards.
func TestHostileRequests(t *testing.T) {
	home := t.TempDir()
	w := startWire(t, func(c *backend.Config, _ *backend.Listener) { c.Home = home })
	app := w.importFiles(t, "target", map[string]string{"compose.yaml": composeYAML})
	js := "Content-Type: application/json"
	origin := func(o string) string { return "Origin: " + o }
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(filesBody("compose.yaml", composeYAML)))
	zw.Close()
	form := func(parts int, field, value string) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for range parts {
			mw.WriteField(field, value)
		}
		fw, _ := mw.CreateFormFile("files", "compose.yaml")
		fw.Write([]byte(composeYAML))
		mw.Close()
		return "Content-Type: " + mw.FormDataContentType(), b.String()
	}
	profilesCT, manyProfiles := form(5000, "profiles", "p")
	envCT, manyEnv := form(5000, "env", "A=1")
	bigHeaderPart := "--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + strings.Repeat("a", 60<<10) + "\"\r\n\r\nx\r\n--b--\r\n"
	manyHeaderPart := "--b\r\n" + strings.Repeat("X-A: b\r\n", 20000) + "Content-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--b--\r\n"

	type tc struct {
		name, raw string
		status    int    // on the port
		sock      int    // on the socket, when it differs
		code, msg string // of the JSON error; code "" when the answer is no error
	}
	get := func(name, target string, status int, code, msg string, hdr ...string) tc {
		return tc{name: name, raw: request("GET", target, "", hdr...), status: status, code: code, msg: msg}
	}
	post := func(name, body string, status, sock int, code, msg string, hdr ...string) tc {
		return tc{name: name, raw: request("POST", "/api/v1/apps", body, hdr...), status: status, sock: sock, code: code, msg: msg}
	}
	hostOnly := func(name, host string, status int, code, msg string) tc {
		return tc{name: name, raw: "GET /api/v1/health HTTP/1.1\r\nHost: " + host + "\r\n\r\n", status: status, sock: 200, code: code, msg: msg}
	}
	cases := []tc{
		// Ids and paths.
		get("dot-dot id, encoded", "/api/v1/apps/%2e%2e", 404, "not_found", `no app with id "%2e%2e"`),
		get("encoded slashes in an id", "/api/v1/apps/..%2f..%2fetc%2fpasswd", 404, "not_found", "no app with id"),
		get("encoded slash before a sub-resource", "/api/v1/apps/"+app.ID+"%2fgraph", 404, "not_found", "no app with id"),
		get("dot-dot segment", "/api/v1/apps/../health", 404, "not_found", "no such endpoint"),
		get("NUL in an id", "/api/v1/apps/x%00y", 404, "not_found", `x\x00y`),
		get("bad escape in the path", "/api/v1/apps/%zz", 400, "invalid", "malformed HTTP request"),
		get("id of 60 KiB", "/api/v1/apps/"+strings.Repeat("a", 60<<10), 404, "not_found", "..."),
		get("double slash", "//api/v1/apps", 404, "not_found", "no such endpoint"),
		get("upper case path", "/API/V1/APPS", 404, "not_found", "no such endpoint"),
		// Query strings.
		get("format twice", "/api/v1/apps/"+app.ID+"/manifests?format=json&format=yaml", 400, "invalid", "format is given 2 times"),
		get("bad escape in the query", "/api/v1/apps/"+app.ID+"/manifests?format=%zz", 400, "invalid", "cannot read the query string"),
		get("semicolon in the query", "/api/v1/apps?a=1;b=2", 400, "invalid", "cannot read the query string"),
		get("format in capitals", "/api/v1/apps/"+app.ID+"/manifests?format=JSON", 400, "invalid", "use yaml or json"),
		get("ten thousand parameters", "/api/v1/apps?"+strings.Repeat("a=1&", 10000), 400, "invalid", "query string"),
		get("a thousand parameters", "/api/v1/apps?"+strings.Repeat("a=1&", 1000), 200, "", ""),
		get("event id over int64", "/api/v1/operations/x/events?lastEventId=99999999999999999999", 400, "invalid", "not an event id"),
		get("negative Last-Event-ID", "/api/v1/operations/x/events", 400, "invalid", "not an event id", "Last-Event-ID: -5"),
		get("Last-Event-ID twice", "/api/v1/operations/x/events", 400, "invalid", "given 2 times", "Last-Event-ID: 1", "Last-Event-ID: 2"),
		get("lastEventId twice", "/api/v1/operations/x/events?lastEventId=1&lastEventId=2", 400, "invalid", "given 2 times"),
		// Host names that are not this machine's (DNS rebinding).
		{name: "absolute URL of another host", raw: "GET http://evil.example/api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", status: 403, sock: 200, code: "forbidden", msg: "evil.example"},
		hostOnly("localhost as a subdomain", "localhost.evil.com", 403, "forbidden", "not allowed"),
		hostOnly("an address as a subdomain", "127.0.0.1.nip.io", 403, "forbidden", "not allowed"),
		hostOnly("localhost with a trailing dot", "localhost.", 403, "forbidden", "not allowed"),
		hostOnly("short IPv4 form", "127.1", 403, "forbidden", "not allowed"),
		hostOnly("IPv6 zone", "[::1%25eth0]:7878", 403, "forbidden", "not allowed"),
		hostOnly("empty Host", "", 403, "forbidden", "not allowed"),
		hostOnly("upper case localhost", "LOCALHOST:7878", 200, "", ""),
		{name: "user info in Host", raw: "GET /api/v1/health HTTP/1.1\r\nHost: evil@localhost\r\n\r\n", status: 400, code: "invalid", msg: "malformed Host header"},
		{name: "HTTP/1.0 without Host", raw: "GET /api/v1/health HTTP/1.0\r\n\r\n", status: 403, sock: 200, code: "forbidden", msg: "not allowed"},
		{name: "HTTP/2 preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 403, sock: 404, code: "forbidden", msg: ""},
		// Origins and fetch metadata (cross-site request forgery).
		post("null Origin with the client header", "{}", 403, 400, "forbidden", "origin", js, origin("null")),
		post("user info in Origin", "{}", 403, 400, "forbidden", "origin", js, origin("http://evil.example@127.0.0.1")),
		post("https Origin", "{}", 403, 400, "forbidden", "origin", js, origin("https://127.0.0.1")),
		post("Origin with a path", "{}", 403, 400, "forbidden", "origin", js, origin("http://127.0.0.1/")),
		post("two Origins", "{}", 403, 400, "forbidden", "evil.example", js, origin("http://127.0.0.1"), origin("https://evil.example")),
		post("Cross-Site in capitals", "{}", 403, 400, "forbidden", "cross-site", js, "Sec-Fetch-Site: Cross-Site"),
		post("same-origin but a foreign Origin", "{}", 403, 400, "forbidden", "evil.example", js, "Sec-Fetch-Site: same-origin", origin("https://evil.example")),
		post("a second Sec-Fetch-Site", "{}", 403, 400, "forbidden", "cross-site", js, "Sec-Fetch-Site: same-origin", "Sec-Fetch-Site: cross-site"),
		{name: "preflight from another site", raw: "OPTIONS /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: x-meshdock\r\n\r\n", status: 204},
		// Bodies.
		post("gzip body", gz.String(), 415, 0, "unsupported", "Content-Encoding", js, "Content-Encoding: gzip"),
		post("unknown Content-Encoding", "{}", 415, 0, "unsupported", "Content-Encoding", js, "Content-Encoding: identity, br"),
		post("Expect other than 100-continue", "{}", 417, 0, "invalid", "Expect", js, "Expect: the-unexpected"),
		{name: "announced body over the limit, never sent", raw: fmt.Sprintf("POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\n%s: 1\r\n%s\r\nContent-Length: %d\r\n\r\n", backend.ClientHeader, js, 6<<20), status: 413, code: "too_large", msg: "at most 5 MiB"},
		{name: "announced body on a GET, never sent", raw: "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n", status: 413, code: "too_large", msg: "at most 64 KiB"},
		{name: "bad chunk size", raw: fmt.Sprintf("POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\n%s: 1\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", backend.ClientHeader, js), status: 400, code: "invalid", msg: "chunk"},
		{name: "chunk size over 64 bits", raw: fmt.Sprintf("POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\n%s: 1\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n", backend.ClientHeader, js), status: 400, code: "invalid", msg: "chunk"},
		{name: "negative Content-Length", raw: "POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n{}", status: 400, code: "invalid", msg: "malformed HTTP request"},
		post("content type of empty parameters", "{}", 415, 0, "unsupported", "content type", "Content-Type: application/json;;;"),
		post("Content-Type twice", "{}", 400, 0, "invalid", "Content-Type is given 2 times", js, "Content-Type: text/plain"),
		post("form urlencoded", "name=x", 415, 0, "unsupported", "application/json or multipart/form-data", "Content-Type: application/x-www-form-urlencoded"),
		post("JSON of another charset", "{}", 415, 0, "unsupported", "charset", "Content-Type: application/json; charset=utf-16"),
		post("JSON with a byte order mark", "\xef\xbb\xbf{}", 400, 0, "invalid", "exactly one of files, dir and project", js),
		post("multipart boundary of 200 characters", "--x--", 400, 0, "invalid", "malformed multipart body", "Content-Type: multipart/form-data; boundary="+strings.Repeat("b", 200)),
		post("multipart of 5000 profiles", manyProfiles, 400, 0, "invalid", "profiles is given more than 20 times", profilesCT),
		post("multipart of 5000 env variables", manyEnv, 400, 0, "invalid", `env variable "A" is given twice`, envCT),
		post("multipart part header of 60 KiB", bigHeaderPart, 400, 0, "invalid", "too long", "Content-Type: multipart/form-data; boundary=b"),
		post("multipart part of 20000 header lines", manyHeaderPart, 400, 0, "invalid", "malformed multipart body", "Content-Type: multipart/form-data; boundary=b"),
		// Methods.
		{name: "CONNECT", raw: "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", status: 403, sock: 404, code: "forbidden", msg: ""},
		{name: "TRACE", raw: request("TRACE", "/api/v1/health", ""), status: 405, code: "invalid", msg: "method not allowed"},
		{name: "PUT on an app", raw: request("PUT", "/api/v1/apps/"+app.ID, "{}", js), status: 405, code: "invalid", msg: "method not allowed"},
		{name: "method override header", raw: request("GET", "/api/v1/apps/"+app.ID, "", "X-HTTP-Method-Override: DELETE"), status: 200},
		{name: "method override parameter", raw: request("POST", "/api/v1/apps/"+app.ID+"?_method=DELETE", ""), status: 405, code: "invalid", msg: "method not allowed"},
		{name: "h2c upgrade", raw: request("GET", "/api/v1/health", "", "Upgrade: h2c", "Connection: Upgrade, HTTP2-Settings", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"), status: 200},
	}
	if len(cases) < 50 {
		t.Fatalf("only %d cases", len(cases))
	}
	before := w.get(t, "/api/v1/apps").Body
	for _, c := range cases {
		for _, network := range networks {
			t.Run(c.name+" "+network, func(t *testing.T) {
				want := c.status
				if network == "unix" && c.sock != 0 {
					want = c.sock
				}
				start := time.Now()
				a := w.exchange(t, network, c.raw, false)
				if d := time.Since(start); d > 3*time.Second {
					t.Errorf("answered after %v", d)
				}
				if a.Status != want {
					t.Fatalf("%d %.300s; want %d", a.Status, a.Body, want)
				}
				if a.Status >= 400 {
					code, msg := a.errorOf(t)
					if code == "" || a.Header.Get("Content-Type") != "application/json" {
						t.Errorf("not a JSON error: %v %s", a.Header, a.Body)
					}
					if want == c.status && (code != c.code || !strings.Contains(msg, c.msg)) {
						t.Errorf("%s %q; want %s with %q", code, msg, c.code, c.msg)
					}
					if len(msg) > 400 {
						t.Errorf("a message of %d bytes", len(msg))
					}
				}
				if c.name == "preflight from another site" && a.Header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("the preflight is granted: %v", a.Header)
				}
				for _, p := range []string{w.sock, w.Data, home} {
					if bytes.Contains(a.Body, []byte(p)) {
						t.Errorf("the answer names %s: %s", p, a.Body)
					}
				}
			})
		}
	}
	if after := w.get(t, "/api/v1/apps").Body; !bytes.Equal(after, before) {
		t.Fatalf("the store changed:\nbefore %s\nafter  %s", before, after)
	}
	for _, network := range networks {
		if a := w.exchange(t, network, request("GET", "/api/v1/health", ""), false); a.Status != 200 {
			t.Fatalf("the server does not answer on %s any more: %d %s", network, a.Status, a.Body)
		}
	}
}

// TestStreamsOpenedAgainAndAgain: HEAD of an event stream takes no stream
// place, and streams opened beyond the limits are refused while the open
// ones go on.
func TestStreamsOpenedAgainAndAgain(t *testing.T) {
	w := startWire(t, withLimits(backend.Limits{Streams: 4, OpStreams: 2}))
	op := runningOp(t, w.testServer, 1, 10)
	var open []*http.Response
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	for range 2 {
		r := w.openStream(t, op)
		if r.StatusCode != 200 {
			t.Fatalf("stream within the limit: %d", r.StatusCode)
		}
		open = append(open, r)
	}
	for i := range 50 {
		if a := w.exchange(t, "unix", request("HEAD", "/api/v1/operations/"+op+"/events", ""), false); a.Status != 200 || len(a.Body) != 0 {
			t.Fatalf("HEAD %d of a full stream: %d %s", i, a.Status, a.Body)
		}
		if a := w.exchange(t, "tcp", request("GET", "/api/v1/operations/"+op+"/events", ""), false); a.Status != 503 || a.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("stream %d over the limit: %d %v %s", i, a.Status, a.Header, a.Body)
		}
	}
}

// TestDeleteWhileImporting deletes apps while others are imported: every
// import and every delete gets its answer, and the store holds exactly the
// apps that were imported and not deleted.
func TestDeleteWhileImporting(t *testing.T) {
	w := startWire(t, func(c *backend.Config, _ *backend.Listener) { c.Limits.Imports = 8 })
	var ids []string
	for i := range 8 {
		ids = append(ids, w.importFiles(t, fmt.Sprintf("old-%d", i), map[string]string{"compose.yaml": composeYAML}).ID)
	}
	var wg sync.WaitGroup
	results := make(chan string, 16)
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			a, err := w.post(jsonBody(map[string]any{"name": fmt.Sprintf("new-%d", i), "files": []map[string]string{{"name": "compose.yaml", "content": composeYAML}}}))
			if err != nil || a.Status != 201 {
				results <- fmt.Sprintf("import %d: %v %d %s", i, err, a.Status, a.Body)
			}
		}()
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(context.Background(), "DELETE", w.URL+"/api/v1/apps/"+ids[i], nil)
			req.Header.Set(backend.ClientHeader, "1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 204 {
				results <- fmt.Sprintf("delete %d: %v %v", i, err, resp)
			}
			if resp != nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	close(results)
	for r := range results {
		t.Error(r)
	}
	var list struct{ Apps []struct{ Name string } }
	w.get(t, "/api/v1/apps").decode(t, &list)
	if len(list.Apps) != 8 {
		t.Fatalf("%d apps after the burst, want the 8 new ones: %+v", len(list.Apps), list.Apps)
	}
	for _, a := range list.Apps {
		if !strings.HasPrefix(a.Name, "new-") {
			t.Fatalf("app %s survived its delete", a.Name)
		}
	}
}
