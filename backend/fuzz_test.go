package backend_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/backend"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
)

// FuzzImportRequest feeds DecodeImport arbitrary bodies: it must never panic,
// must refuse with a client error code, and whatever it accepts must keep
// the limits and naming rules.
func FuzzImportRequest(f *testing.F) {
	f.Add("application/json", []byte(`{"name":"a","files":[{"name":"compose.yaml","content":"services: {}"}]}`))
	f.Add("application/json", []byte(`{"dir":"/srv/app","env":{"A":"1"},"profiles":["debug"]}`))
	f.Add("application/json", []byte(`{"project":"shop","namespace":"shop","bindMounts":"skip"}`))
	f.Add("application/json", []byte(`{"files":[{"name":"../x","content":""}]}`))
	f.Add("application/json; charset=utf-8", []byte(`{"files":[{"name":"a/b/c.yaml","content":"x"}],"composeFiles":["a/b/c.yaml"]}`))
	f.Add("text/plain", []byte(`hello`))
	f.Add("application/json", []byte(`{"env":{"A":"1","A":"2"},"files":[{"name":"x","content":"","name":"y"}],"profiles":[[{"a":1}]]}`))
	ct, body := form{fields: [][2]string{{"name", "x"}, {"env", "A=1"}, {"profiles", "p"}}, files: [][2]string{{"compose.yaml", "services: {}"}, {"conf/a.conf", "x"}}}.encode()
	f.Add(ct, []byte(body))
	ct, body = form{files: [][2]string{{"..\\evil", "x"}}}.encode()
	f.Add(ct, []byte(body))
	// Real compose files of the converter's test data, as uploads.
	dirs, _ := filepath.Glob("../convert/testdata/*-*")
	for _, d := range dirs {
		var req backend.ImportRequest
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(d, e.Name())); err == nil && !e.IsDir() {
				req.Files = append(req.Files, backend.FileUpload{Name: e.Name(), Content: string(b)})
			}
		}
		if b, err := json.Marshal(req); err == nil {
			f.Add("application/json", b)
		}
	}
	lim := backend.Limits{Body: 64 << 10, FileSize: 4 << 10, Files: 8}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req, err := backend.DecodeImport(contentType, bytes.NewReader(body), lim)
		if err != nil {
			switch meshdock.ErrorCode(err) {
			case meshdock.EINVALID, meshdock.ETOOLARGE, meshdock.EUNSUPPORTED:
			default:
				t.Fatalf("refused with code %s: %v", meshdock.ErrorCode(err), err)
			}
			if meshdock.ErrorMessage(err) == "" {
				t.Fatal("refused without a message")
			}
			return
		}
		sources := 0
		for _, given := range []bool{len(req.Files) > 0, req.Dir != "", req.Project != ""} {
			if given {
				sources++
			}
		}
		if sources != 1 {
			t.Fatalf("accepted a request with %d sources", sources)
		}
		if len(req.Files) > lim.Files {
			t.Fatalf("accepted %d files", len(req.Files))
		}
		for _, file := range req.Files {
			if compose.CheckFileName(file.Name) != nil || strings.Contains(file.Name, "..") && strings.Contains("/"+file.Name+"/", "/../") {
				t.Fatalf("accepted file name %q", file.Name)
			}
			if len(file.Content) > lim.FileSize {
				t.Fatalf("accepted a file of %d bytes", len(file.Content))
			}
		}
		if req.Dir != "" && !strings.HasPrefix(req.Dir, "/") {
			t.Fatalf("accepted a relative dir %q", req.Dir)
		}
		if len(req.Files) == 0 {
			return
		}
		// What was accepted is converted as the server would: it may be
		// refused, never fail inside meshdock.
		src := compose.Source{Name: req.Name, ComposeFiles: req.ComposeFiles, EnvFiles: req.EnvFiles, Env: req.Env, Profiles: req.Profiles}
		for _, f := range req.Files {
			src.Files = append(src.Files, compose.File{Name: f.Name, Content: []byte(f.Content)})
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p, err := compose.Load(ctx, src)
		if err == nil {
			_, err = convert.Convert(ctx, p, convert.Options{Namespace: req.Namespace, BindMounts: convert.BindMounts(req.BindMounts)})
		}
		if err != nil {
			switch meshdock.ErrorCode(err) {
			case meshdock.EINVALID, meshdock.ETOOLARGE:
			default:
				t.Fatalf("conversion failed with code %s: %v", meshdock.ErrorCode(err), err)
			}
		}
	})
}
