package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(handler("web", 10*time.Millisecond))
	defer srv.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	start := time.Now()
	code, body := get("/hello?delay=40ms")
	if code != 200 {
		t.Fatalf("/hello: %d %s", code, body)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("answered after %v, want at least DELAY + ?delay = 50ms", took)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got["name"] != "web" || got["path"] != "/hello" || got["delayed"] != "50ms" {
		t.Errorf("answer %v", got)
	}
	if code, _ := get("/?delay=soon"); code != http.StatusBadRequest {
		t.Errorf("bad delay: %d, want 400", code)
	}
	if got := healthcheck(srv.URL + "/healthz"); got != 0 {
		t.Errorf("healthcheck of a live server: exit %d", got)
	}
	if got := healthcheck(srv.URL + "/?delay=soon"); got != 1 {
		t.Errorf("healthcheck of a 400: exit %d", got)
	}
}
