package convert

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/meshdock/meshdock"
)

func parseCase(s string) []File {
	var files []File
	if !strings.HasPrefix(s, "-- ") {
		return []File{{Name: "compose.yaml", Content: []byte(s)}}
	}
	for _, part := range strings.Split(s, "\n-- ")[0:] {
		part = strings.TrimPrefix(part, "-- ")
		hdr, body, _ := strings.Cut(part, "\n")
		name := strings.TrimSuffix(strings.TrimSpace(hdr), " --")
		files = append(files, File{Name: name, Content: []byte(body)})
	}
	return files
}

func TestZZReview(t *testing.T) {
	path := os.Getenv("ZZ_CASE")
	if path == "" {
		t.Skip()
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := Source{Name: "x", Files: parseCase(string(raw))}
	if v := os.Getenv("ZZ_COMPOSE"); v != "" {
		src.ComposeFiles = strings.Split(v, ",")
	}
	if v := os.Getenv("ZZ_PROFILES"); v != "" {
		src.Profiles = strings.Split(v, ",")
	}
	mode := BindMounts(os.Getenv("ZZ_MODE"))
	if mode == "" {
		mode = BindMountsHostPath
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var peak uint64
	done := make(chan bool)
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak {
				peak = m.HeapInuse
			}
		}
	}()
	start := time.Now()
	var res *Result
	func() {
		defer func() {
			if r := recover(); r != nil {
				fmt.Printf("PANIC: %v\n", r)
			}
		}()
		res, err = Convert(ctx, src, Options{BindMounts: mode})
	}()
	el := time.Since(start)
	close(done)
	var text string
	if err != nil {
		text = fmt.Sprintf("ERR code=%s msg=%s full=%v", meshdock.ErrorCode(err), meshdock.ErrorMessage(err), err)
	} else {
		b, _ := json.Marshal(res)
		text = string(b)
	}
	fmt.Printf("TIME %v PEAKHEAP %d MB\n", el, peak>>20)
	if len(text) > 3000 && os.Getenv("ZZ_FULL") == "" {
		fmt.Printf("OUT(%d bytes) %s ...\n", len(text), text[:3000])
	} else {
		fmt.Printf("OUT %s\n", text)
	}
	home, _ := os.UserHomeDir()
	for _, m := range []string{home, "meshdock-src-", os.TempDir(), "ZZSECRETENV", "TOPSECRET", "OUTSIDE-SECRET", "internal", "panic"} {
		if strings.Contains(text, m) {
			fmt.Printf("LEAK-MARKER %q found\n", m)
		}
	}
	if res != nil {
		for _, w := range res.Warnings {
			fmt.Printf("W %s:%d [%s] %s %s\n", w.File, w.Line, w.Service, w.Key, w.Message)
		}
	}
}
