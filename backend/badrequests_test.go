package backend_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/meshdock/meshdock/backend"
)

func jsonBody(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func filesBody(files ...string) string {
	var fs []map[string]string
	for i := 0; i+1 < len(files); i += 2 {
		fs = append(fs, map[string]string{"name": files[i], "content": files[i+1]})
	}
	return jsonBody(map[string]any{"files": fs})
}

type form struct {
	fields [][2]string
	files  [][2]string
	noB    bool
}

func (f form) encode() (string, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, kv := range f.fields {
		mw.WriteField(kv[0], kv[1])
	}
	for _, kv := range f.files {
		w, _ := mw.CreateFormFile("files", kv[0])
		io.WriteString(w, kv[1])
	}
	mw.Close()
	ct := mw.FormDataContentType()
	if f.noB {
		ct = "multipart/form-data"
	}
	return ct, buf.String()
}

// TestBadRequests sends requests that must be refused with a 4xx, a code and
// a message that says what is wrong, and checks that none changes the store.
func TestBadRequests(t *testing.T) {
	ts := startServer(t, "")
	existing := ts.importFiles(t, "existing", map[string]string{"compose.yaml": composeYAML})
	good := "services: {web: {image: nginx}}\n"
	mpTooBig, mpTooBigCT := "", ""
	{
		ct, b := form{files: [][2]string{{"compose.yaml", strings.Repeat("#", 1<<20+1)}}}.encode()
		mpTooBig, mpTooBigCT = b, ct
	}
	manyFiles := []string{"compose.yaml", good}
	for i := range 200 {
		manyFiles = append(manyFiles, fmt.Sprintf("f%d.txt", i), "x")
	}

	var manyNames []string
	for i := range 21 {
		manyNames = append(manyNames, fmt.Sprintf("compose-%d.yaml", i))
	}

	type tc struct {
		name, method, path, ctype, body string
		header                          []string
		chunked                         bool // no Content-Length: the limit must hold while reading
		status                          int
		code, msg                       string
	}
	post := func(name, ctype, body string, status int, code, msg string) tc {
		return tc{name: name, method: "POST", path: "/api/v1/apps", ctype: ctype, body: body, status: status, code: code, msg: msg}
	}
	const js = "application/json"
	cases := []tc{
		post("text content type", "text/plain", good, 415, "unsupported", "application/json or multipart/form-data"),
		post("no content type", "", good, 415, "unsupported", "content type"),
		post("malformed JSON", js, `{"files": [`, 400, "invalid", "malformed JSON"),
		post("empty body", js, ``, 400, "invalid", "empty body"),
		post("array instead of object", js, `[1,2]`, 400, "invalid", "must be a JSON object"),
		post("unknown field", js, `{"nme": "x"}`, 400, "invalid", `unknown field "nme"`),
		post("two JSON values", js, `{} {}`, 400, "invalid", "more than one value"),
		post("files is a string", js, `{"files": "compose.yaml"}`, 400, "invalid", `"files" must be an array`),
		post("no source", js, `{}`, 400, "invalid", "exactly one of files, dir and project"),
		post("unread without a project", js, jsonBody(map[string]any{"unread": "x", "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "unread says why"),
		post("unread too long", js, jsonBody(map[string]any{"unread": strings.Repeat("x", 4001), "project": "x"}), 400, "invalid", "unread says why"),
		post("files and dir", js, jsonBody(map[string]any{"dir": "/x", "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "exactly one of"),
		post("project, files and dir", js, jsonBody(map[string]any{"project": "x", "dir": "/x", "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "exactly one of"),
		post("oversized body", js, filesBody("compose.yaml", strings.Repeat("#", 6<<20)), 413, "too_large", "at most 5 MiB"),
		{name: "oversized chunked body", method: "POST", path: "/api/v1/apps", ctype: js, body: filesBody("compose.yaml", strings.Repeat("#", 6<<20)), chunked: true, status: 413, code: "too_large", msg: "over 5 MiB"},
		{name: "oversized chunked multipart", method: "POST", path: "/api/v1/apps", chunked: true, status: 413, code: "too_large", msg: "over 5 MiB"},
		post("file over 1 MiB", js, filesBody("compose.yaml", strings.Repeat("#", 1<<20+1)), 413, "too_large", "at most 1 MiB per file"),
		post("too many files", js, filesBody(manyFiles...), 413, "too_large", "at most 200"),
		post("path traversal", js, filesBody("../compose.yaml", good), 400, "invalid", ".."),
		post("traversal in the middle", js, filesBody("compose.yaml", good, "a/../../etc/x", "x"), 400, "invalid", ".."),
		post("absolute file name", js, filesBody("/etc/compose.yaml", good), 400, "invalid", "absolute"),
		post("backslash in file name", js, filesBody(`conf\app.conf`, "x", "compose.yaml", good), 400, "invalid", "backslash"),
		post("NUL in file name", js, filesBody("compose.yaml\x00.txt", good), 400, "invalid", "control character"),
		post("empty file name", js, filesBody("", good), 400, "invalid", "no name"),
		post("same file twice", js, filesBody("compose.yaml", good, "./compose.yaml", good), 400, "invalid", "given twice"),
		post("bad app name", js, jsonBody(map[string]any{"name": "Bad Name", "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "lowercase letters"),
		post("bad namespace", js, jsonBody(map[string]any{"namespace": "-x-", "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "namespace"),
		post("bad bindMounts", js, jsonBody(map[string]any{"bindMounts": "copy", "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "skip, hostpath or configmap"),
		post("bad profile", js, jsonBody(map[string]any{"profiles": []string{"de bug"}, "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "profile"),
		post("env name with =", js, jsonBody(map[string]any{"env": map[string]string{"A=B": "c"}, "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "env variable"),
		post("composeFiles lists a file twice", js, jsonBody(map[string]any{"composeFiles": []string{"compose.yaml", "./compose.yaml"}, "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", `composeFiles lists "./compose.yaml" twice`),
		post("envFiles lists a file twice", js, jsonBody(map[string]any{"envFiles": []string{"a.env", "a.env"}, "files": []map[string]string{{"name": "compose.yaml", "content": good}, {"name": "a.env", "content": "A=1\n"}}}), 400, "invalid", `envFiles lists "a.env" twice`),
		post("composeFiles too long", js, jsonBody(map[string]any{"composeFiles": manyNames, "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "composeFiles lists 21 files: at most 20"),
		post("envFiles too long", js, jsonBody(map[string]any{"envFiles": manyNames, "dir": "/srv/app"}), 400, "invalid", "envFiles lists 21 files: at most 20"),
		{name: "POST without Origin or client header", method: "POST", path: "/api/v1/apps", ctype: js, body: filesBody("compose.yaml", good), header: []string{backend.ClientHeader, ""}, status: 403, code: "forbidden", msg: backend.ClientHeader + ": 1"},
		{name: "DELETE without Origin or client header", method: "DELETE", path: "/api/v1/apps/" + existing.ID, header: []string{backend.ClientHeader, ""}, status: 403, code: "forbidden", msg: backend.ClientHeader + ": 1"},
		post("compose file not uploaded", js, jsonBody(map[string]any{"composeFiles": []string{"other.yaml"}, "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "not among the files"),
		post("YAML syntax error", js, filesBody("compose.yaml", "services:\n  web:\n    image: [nginx\n"), 400, "invalid", "compose.yaml"),
		post("schema error", js, filesBody("compose.yaml", "services:\n  web:\n    image: nginx\n    ports: {a: b}\n"), 400, "invalid", "ports"),
		post("no compose file", js, filesBody(".env", "A=1\n"), 400, "invalid", "no compose file"),
		post("secret file outside the project", js, filesBody("compose.yaml", good+"secrets:\n  s:\n    file: /etc/shadow\n"), 400, "invalid", "outside"),
		post("env_file missing", js, filesBody("compose.yaml", "services:\n  web:\n    image: nginx\n    env_file: web.env\n"), 400, "invalid", "web.env"),
		post("depends_on undefined", js, filesBody("compose.yaml", "services:\n  web:\n    image: nginx\n    depends_on: [db]\n"), 400, "invalid", "db"),
		post("relative dir", js, `{"dir": "examples/shop"}`, 400, "invalid", "absolute path"),
		post("dir that does not exist", js, `{"dir": "/nonexistent/meshdock-test"}`, 400, "invalid", "/nonexistent/meshdock-test"),
		post("bad project name", js, `{"project": "Not/A/Project"}`, 400, "invalid", "not a compose project name"),
		post("multipart without boundary", "", "", 400, "invalid", "boundary"),
		post("multipart unknown field", "", "", 400, "invalid", `unknown form field "colour"`),
		post("multipart file too large", mpTooBigCT, mpTooBig, 413, "too_large", "per file"),
		post("multipart traversal", "", "", 400, "invalid", ".."),
		{name: "unknown app", method: "GET", path: "/api/v1/apps/0000000000000000", status: 404, code: "not_found", msg: `no app with id "0000000000000000"`},
		{name: "unknown app delete", method: "DELETE", path: "/api/v1/apps/nope", status: 404, code: "not_found", msg: "no app"},
		{name: "unknown app manifests", method: "GET", path: "/api/v1/apps/nope/manifests", status: 404, code: "not_found", msg: "no app"},
		{name: "unknown app graph", method: "GET", path: "/api/v1/apps/nope/graph", status: 404, code: "not_found", msg: "no app"},
		{name: "bad manifest format", method: "GET", path: "/api/v1/apps/" + existing.ID + "/manifests?format=xml", status: 400, code: "invalid", msg: "use yaml or json"},
		{name: "unknown operation", method: "GET", path: "/api/v1/operations/nope", status: 404, code: "not_found", msg: "no operation"},
		{name: "events of unknown operation", method: "GET", path: "/api/v1/operations/nope/events", status: 404, code: "not_found", msg: "no operation"},
		// Names that would pose as others where they are shown.
		post("DEL in a file name", js, filesBody("compose.yaml", good, "a\u007f.conf", "x"), 400, "invalid", "file name"),
		post("bidi override in a file name", js, filesBody("compose.yaml", good, "txt.\u202eyaml", "x"), 400, "invalid", "file name"),
		post("zero-width space in a file name", js, filesBody("compose.yaml", good, "compose\u200b.yaml", "x"), 400, "invalid", "file name"),
		post("C1 control in a file name", js, filesBody("compose.yaml", good, "a\u0085b", "x"), 400, "invalid", "file name"),
		post("bidi override in a listed name", js, jsonBody(map[string]any{"composeFiles": []string{"\u202ecompose.yaml"}, "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", ""),
		post("invalid UTF-8 in JSON", js, `{"files":[{"name":"compose.yaml","content":"services: {}"},{"name":"a`+"\xff\xfe"+`.conf","content":"x"}]}`, 400, "invalid", "UTF-8"),
		post("multipart invalid UTF-8 file name", "", "", 400, "invalid", "file name"),
		post("multipart bidi override in a file name", "", "", 400, "invalid", "file name"),
		post("bidi override in an env name", js, jsonBody(map[string]any{"env": map[string]string{"A\u202eB": "c"}, "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "env variable"),
		post("DEL in an env name", js, jsonBody(map[string]any{"env": map[string]string{"A\u007f": "c"}, "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "env variable"),
		post("bidi override in dir", js, jsonBody(map[string]any{"dir": "/srv/\u202eapp"}), 400, "invalid", "format characters"),
		post("bidi override in name", js, jsonBody(map[string]any{"name": "app\u202e", "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "name"),
		post("zero-width space in project", js, jsonBody(map[string]any{"project": "shop\u200b"}), 400, "invalid", "project"),
		post("bidi override in a profile", js, jsonBody(map[string]any{"profiles": []string{"debug\u202e"}, "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "profile"),
		post("bidi override in namespace", js, jsonBody(map[string]any{"namespace": "ns\u202e", "files": []map[string]string{{"name": "compose.yaml", "content": good}}}), 400, "invalid", "namespace"),
		// Keys the decoder would drop or let override others.
		post("unknown key in a file", js, `{"files":[{"name":"compose.yaml","contents":"x"}]}`, 400, "invalid", `unknown field "contents" in files[0]: a file has the fields name and content`),
		post("unknown key in the second file", js, `{"files":[{"name":"compose.yaml","content":"x"},{"name":"a","path":"/etc/x"}]}`, 400, "invalid", `in files[1]`),
		post("key twice", js, `{"name":"a","name":"b","files":[{"name":"compose.yaml","content":"services: {}"}]}`, 400, "invalid", `key "name" is given twice in the request`),
		post("key twice in a file", js, `{"files":[{"name":"compose.yaml","content":"services: {}","name":"x.yaml"}]}`, 400, "invalid", `key "name" is given twice in files[0]`),
		post("key twice in env", js, `{"env":{"A":"1","B":"2","A":"3"},"files":[{"name":"compose.yaml","content":"services: {}"}]}`, 400, "invalid", `key "A" is given twice in env`),
		post("key twice deep inside", js, `{"files":[{"name":"compose.yaml","content":"services: {}"}],"profiles":[[{"a":1,"a":2}]]}`, 400, "invalid", `key "a" is given twice in profiles[0][0]`),
		post("files key twice", js, `{"files":[],"files":[{"name":"compose.yaml","content":"services: {}"}]}`, 400, "invalid", `key "files" is given twice`),
		post("JSON nested too deep", js, `{"env":`+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+`}`, 400, "invalid", "nested deeper"),
		post("JSON in latin1", "application/json; charset=latin1", filesBody("compose.yaml", good), 415, "unsupported", "charset"),
		post("multipart env twice", "", "", 400, "invalid", `env variable "A" is given twice`),
		post("multipart field twice, first empty", "", "", 400, "invalid", `field "name" is given twice`),
		post("multipart profiles over the limit", "", "", 400, "invalid", "profiles is given more than 20 times"),
		{name: "bad Last-Event-ID", method: "GET", path: "/api/v1/operations/nope/events", header: []string{"Last-Event-ID", "abc"}, status: 400, code: "invalid", msg: "Last-Event-ID"},
		{name: "bad Host", method: "GET", path: "/api/v1/apps", header: []string{"Host", "evil.example:7878"}, status: 403, code: "forbidden", msg: "evil.example"},
		{name: "bad Host on POST", method: "POST", path: "/api/v1/apps", ctype: js, body: filesBody("compose.yaml", good), header: []string{"Host", "meshdock.attacker.test"}, status: 403, code: "forbidden", msg: "not allowed"},
		{name: "cross-site Origin", method: "POST", path: "/api/v1/apps", ctype: js, body: filesBody("compose.yaml", good), header: []string{"Origin", "https://evil.example"}, status: 403, code: "forbidden", msg: "cross-site"},
		{name: "other port's Origin", method: "DELETE", path: "/api/v1/apps/" + existing.ID, header: []string{"Origin", "http://localhost:9999"}, status: 403, code: "forbidden", msg: "cross-site"},
		{name: "null Origin", method: "POST", path: "/api/v1/apps", ctype: js, body: filesBody("compose.yaml", good), header: []string{"Origin", "null"}, status: 403, code: "forbidden", msg: "cross-site"},
		{name: "Sec-Fetch-Site cross-site", method: "DELETE", path: "/api/v1/apps/" + existing.ID, header: []string{"Sec-Fetch-Site", "cross-site"}, status: 403, code: "forbidden", msg: "cross-site"},
		{name: "body on a GET-only endpoint is too large", method: "POST", path: "/api/v1/apps/" + existing.ID, ctype: js, body: strings.Repeat("x", 100<<10), status: 413, code: "too_large", msg: "at most 64 KiB"},
	}
	manyProfiles := make([][2]string, 30)
	for i := range manyProfiles {
		manyProfiles[i] = [2]string{"profiles", fmt.Sprintf("p%d", i)}
	}
	multipartBodies := map[string]form{
		"multipart invalid UTF-8 file name":      {files: [][2]string{{"compose.yaml", good}, {"a\xff.conf", "x"}}},
		"multipart bidi override in a file name": {files: [][2]string{{"compose.yaml", good}, {"txt.\u202eyaml", "x"}}},
		"multipart env twice":                    {fields: [][2]string{{"env", "A=1"}, {"env", "A=2"}}, files: [][2]string{{"compose.yaml", good}}},
		"multipart field twice, first empty":     {fields: [][2]string{{"name", ""}, {"name", "x"}}, files: [][2]string{{"compose.yaml", good}}},
		"multipart profiles over the limit":      {fields: manyProfiles, files: [][2]string{{"compose.yaml", good}}},
		"multipart without boundary":             {files: [][2]string{{"compose.yaml", good}}, noB: true},
		"multipart unknown field":                {fields: [][2]string{{"colour", "red"}}, files: [][2]string{{"compose.yaml", good}}},
		"multipart traversal":                    {files: [][2]string{{"compose.yaml", good}, {"../../x.conf", "x"}}},
		"oversized chunked multipart": {files: [][2]string{{"compose.yaml", good}, {"a.txt", strings.Repeat("a", 1<<20)},
			{"b.txt", strings.Repeat("b", 1<<20)}, {"c.txt", strings.Repeat("c", 1<<20)}, {"d.txt", strings.Repeat("d", 1<<20)},
			{"e.txt", strings.Repeat("e", 1<<20)}, {"f.txt", strings.Repeat("f", 1<<20)}}},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d bad requests", len(cases))
	}
	before := ts.get(t, "/api/v1/apps")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if f, ok := multipartBodies[c.name]; ok {
				c.ctype, c.body = f.encode()
			}
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
				if c.chunked {
					body = io.MultiReader(body)
				}
			}
			hdr := c.header
			if c.method != "GET" && c.method != "HEAD" && len(hdr) == 0 {
				hdr = []string{"Origin", ts.URL} // what a browser on the UI's own page sends
			}
			a := ts.do(t, c.method, c.path, c.ctype, body, hdr...)
			code, msg := a.errorOf(t)
			if a.Status != c.status || code != c.code || !strings.Contains(msg, c.msg) {
				t.Errorf("%s %s: got %d %s %q; want %d %s and a message with %q", c.method, c.path, a.Status, code, msg, c.status, c.code, c.msg)
			}
			t.Logf("%d %s: %s", a.Status, code, msg)
			if a.Status < 400 || a.Status >= 500 {
				t.Errorf("status %d is not a client error", a.Status)
			}
			if after := ts.get(t, "/api/v1/apps"); !bytes.Equal(after.Body, before.Body) {
				t.Errorf("the store changed:\nbefore %s\nafter  %s", before.Body, after.Body)
			}
		})
	}
	if a := ts.get(t, "/api/v1/apps/"+existing.ID); a.Status != http.StatusOK {
		t.Fatalf("the app that existed before is gone: %d", a.Status)
	}
	t.Logf("%d bad requests refused", len(cases))
}
