package compose_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
)

func upload(text string, extra ...compose.File) compose.Source {
	return compose.Source{Name: "limits", Files: append([]compose.File{{Name: "compose.yaml", Content: []byte(text)}}, extra...)}
}

// A project over a limit is refused before compose-go expands it: a
// 25,000-service file costs a YAML parse, not a load, and leaves the heap
// as it found it.
func TestManyServicesRefusedEarly(t *testing.T) {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range 25000 {
		fmt.Fprintf(&b, "  s%d: {image: x, ports: ['80']}\n", i)
	}
	text := b.String()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for range 3 {
		_, err := convertSource(context.Background(), upload(text), convert.Options{})
		if meshdock.ErrorCode(err) != meshdock.ETOOLARGE || !strings.Contains(meshdock.ErrorMessage(err), "compose.yaml:1002: more than 1000 services") {
			t.Fatalf("25,000 services: %v", err)
		}
	}
	if grown := int64(heap()) - int64(before); grown > 16<<20 {
		t.Errorf("the heap grew by %d MiB after refused imports", grown>>20)
	}
}

// Variables cannot multiply a small file into a large one.
func TestInterpolationBombRefused(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	var b strings.Builder
	b.WriteString("services:\n  a:\n    image: x\n    environment:\n")
	for i := range 20 {
		fmt.Fprintf(&b, "      V%d: ${BIG}\n", i)
	}
	src := upload(b.String())
	src.Env = map[string]string{"BIG": big}
	_, err := convertSource(context.Background(), src, convert.Options{})
	if meshdock.ErrorCode(err) != meshdock.ETOOLARGE || !strings.Contains(meshdock.ErrorMessage(err), "variables add more than 16.0 MiB") {
		t.Fatalf("interpolation bomb: %v", err)
	}
	// The same through .env, where one variable builds on another.
	for name, env := range map[string]string{
		"repeated": "A=" + big + "\nB=" + strings.Repeat("${A}", 20) + "\n",
		"doubling": "A=xxxxxxxxxxxxxxxx\n" + doubling(40),
		"quoted":   "A=\"" + strings.Repeat("x", 1<<16) + "\"\nB='$A'\nC=\"" + strings.Repeat("${A}", 300) + "\"\n",
	} {
		_, err = convertSource(context.Background(), upload("services: {a: {image: x}}\n", compose.File{Name: ".env", Content: []byte(env)}), convert.Options{})
		if meshdock.ErrorCode(err) != meshdock.ETOOLARGE || !strings.Contains(meshdock.ErrorMessage(err), ".env: its variables expand to more than") {
			t.Fatalf(".env bomb %s: %v", name, err)
		}
	}
}

// An env file every service names counts once per service.
func TestEnvFileReuseCounted(t *testing.T) {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range 100 {
		fmt.Fprintf(&b, "  s%d: {image: x, env_file: big.env}\n", i)
	}
	env := "A=" + strings.Repeat("x", 1<<20) + "\n"
	_, err := convertSource(context.Background(), upload(b.String(), compose.File{Name: "big.env", Content: []byte(env)}), convert.Options{})
	if meshdock.ErrorCode(err) != meshdock.ETOOLARGE || !strings.Contains(meshdock.ErrorMessage(err), ".env_file: env files, label files and variables add more than") {
		t.Fatalf("an env file used 100 times: %v", err)
	}
}

// doubling writes env lines each twice the size of the one before.
func doubling(n int) string {
	var b strings.Builder
	prev := "A"
	for i := range n {
		fmt.Fprintf(&b, "V%d=${%s}${%s}\n", i, prev, prev)
		prev = fmt.Sprintf("V%d", i)
	}
	return b.String()
}

// The same limits hold for an included file.
func TestIncludedFileCounts(t *testing.T) {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range 1001 {
		fmt.Fprintf(&b, "  s%d: {image: x}\n", i)
	}
	_, err := convertSource(context.Background(), upload("include: [inc.yaml]\nservices: {a: {image: x}}\n", compose.File{Name: "inc.yaml", Content: []byte(b.String())}), convert.Options{})
	if meshdock.ErrorCode(err) != meshdock.ETOOLARGE || !strings.Contains(meshdock.ErrorMessage(err), "inc.yaml") {
		t.Fatalf("1001 included services: %v", err)
	}
	_, err = convertSource(context.Background(), upload("include: [inc.yaml]\nservices: {a: {image: x}}\n", compose.File{Name: "inc.yaml", Content: []byte("services: {b: {image: x, ports: ['1-65535:1-65535']}}\n")}), convert.Options{})
	if meshdock.ErrorCode(err) != meshdock.ETOOLARGE || !strings.Contains(meshdock.ErrorMessage(err), "inc.yaml:1: services.b.ports") {
		t.Fatalf("an included port range: %v", err)
	}
}

// A cancelled conversion says so; it is not the input's fault.
func TestCanceledIsCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := convertSource(ctx, upload("services: {a: {image: x}}\n"), convert.Options{})
	if meshdock.ErrorCode(err) != meshdock.ECANCELED {
		t.Fatalf("cancelled: %s %v", meshdock.ErrorCode(err), err)
	}
	if meshdock.ErrorCode(nil) != "" || meshdock.ErrorMessage(nil) != "" {
		t.Errorf("a nil error has a code or message")
	}
	if meshdock.ErrorMessage(context.Canceled) != "canceled" {
		t.Errorf("context.Canceled shows %q", meshdock.ErrorMessage(context.Canceled))
	}
}

// Every file name an upload may use is shown as it is: none hides or
// reorders characters.
func TestFileNamesCannotSpoof(t *testing.T) {
	for _, name := range []string{"a\x7fb.yaml", "evil\u202egnp.yaml", "a\u200b.yaml", "a\u0085.yaml", "\ufeffcompose.yaml", "a\u2066b", "x\xffy.yaml", "a\\b", "a\x00"} {
		if err := compose.CheckFileName(name); meshdock.ErrorCode(err) != meshdock.EINVALID {
			t.Errorf("compose.CheckFileName(%+q) = %v, want invalid", name, err)
		}
	}
	for _, name := range []string{"compose.yaml", "conf/nginx.conf", "données/é.txt", "日本語.yaml", ".env"} {
		if err := compose.CheckFileName(name); err != nil {
			t.Errorf("compose.CheckFileName(%q) = %v", name, err)
		}
	}
}
