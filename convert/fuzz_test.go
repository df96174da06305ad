package convert

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
)

// FuzzConvert feeds arbitrary compose files (with an override file, a
// variable and each bind-mount mode) to the converter as an upload, the way
// a server calls it. No input may panic, hang, yield an internal error
// (a panic recovered inside compose-go or kompose is one), or show a path
// of the converting machine in its message.
func FuzzConvert(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/compose.yaml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b, []byte("services: {}\n"), "1", byte(0))
		}
	}
	f.Add([]byte("services: {a: {image: x, ports: ['80'], healthcheck: {test: 'true'}}}"), []byte(""), "", byte(2))
	f.Add([]byte("services: {a: {image: x, volumes: ['${V:-~}/a:/a', './a.txt:/b']}}"), []byte("services: {a: {scale: 2}}"), "x", byte(1))
	f.Fuzz(func(t *testing.T, text, override []byte, value string, mode byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		src := compose.Source{Name: "fuzz", Env: map[string]string{"V": value},
			Files: []compose.File{{Name: "compose.yaml", Content: text}, {Name: "a.txt", Content: []byte("x")}}}
		if len(override) > 0 {
			src.Files = append(src.Files, compose.File{Name: "compose.override.yaml", Content: override})
		}
		bind := []BindMounts{BindMountsSkip, BindMountsHostPath, BindMountsConfigMap}[int(mode)%3]
		res, err := convertSource(ctx, src, Options{BindMounts: bind})
		if err == nil {
			if res == nil {
				t.Fatal("no result and no error")
			}
			return
		}
		switch code := meshdock.ErrorCode(err); code {
		case meshdock.EINVALID, meshdock.ETOOLARGE:
		default:
			t.Fatalf("error with code %s: %v", code, err)
		}
		msg := meshdock.ErrorMessage(err)
		if msg == "" || strings.Contains(msg, "meshdock-src-") {
			t.Fatalf("message %q is empty or names a server path", msg)
		}
	})
}
