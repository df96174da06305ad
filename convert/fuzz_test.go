package convert

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzConvert feeds arbitrary compose files to the converter: it may refuse
// them, but must never panic or hang.
func FuzzConvert(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/compose.yaml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("services: {a: {image: x, ports: ['80'], healthcheck: {test: 'true'}}}"))
	f.Fuzz(func(t *testing.T, compose []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		src := Source{Name: "fuzz", Files: []File{{Name: "compose.yaml", Content: compose}, {Name: "a.txt", Content: []byte("x")}}}
		res, err := Convert(ctx, src, Options{BindMounts: BindMountsConfigMap})
		if err == nil && res == nil {
			t.Fatal("no result and no error")
		}
	})
}
