package convert

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/meshdock/meshdock"
)

func upload(compose string, extra ...File) Source {
	return Source{Name: "limits", Files: append([]File{{Name: "compose.yaml", Content: []byte(compose)}}, extra...)}
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
	compose := b.String()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for range 3 {
		_, err := Convert(context.Background(), upload(compose), Options{})
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
	_, err := Convert(context.Background(), src, Options{})
	if meshdock.ErrorCode(err) != meshdock.ETOOLARGE || !strings.Contains(meshdock.ErrorMessage(err), "variables add more than 16.0 MiB") {
		t.Fatalf("interpolation bomb: %v", err)
	}
	// The same through .env, where one variable builds on another.
	for name, env := range map[string]string{
		"repeated": "A=" + big + "\nB=" + strings.Repeat("${A}", 20) + "\n",
		"doubling": "A=xxxxxxxxxxxxxxxx\n" + doubling(40),
		"quoted":   "A=\"" + strings.Repeat("x", 1<<16) + "\"\nB='$A'\nC=\"" + strings.Repeat("${A}", 300) + "\"\n",
	} {
		_, err = Convert(context.Background(), upload("services: {a: {image: x}}\n", File{Name: ".env", Content: []byte(env)}), Options{})
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
	_, err := Convert(context.Background(), upload(b.String(), File{Name: "big.env", Content: []byte(env)}), Options{})
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
	_, err := Convert(context.Background(), upload("include: [inc.yaml]\nservices: {a: {image: x}}\n", File{Name: "inc.yaml", Content: []byte(b.String())}), Options{})
	if meshdock.ErrorCode(err) != meshdock.ETOOLARGE || !strings.Contains(meshdock.ErrorMessage(err), "inc.yaml") {
		t.Fatalf("1001 included services: %v", err)
	}
	_, err = Convert(context.Background(), upload("include: [inc.yaml]\nservices: {a: {image: x}}\n", File{Name: "inc.yaml", Content: []byte("services: {b: {image: x, ports: ['1-65535:1-65535']}}\n")}), Options{})
	if meshdock.ErrorCode(err) != meshdock.ETOOLARGE || !strings.Contains(meshdock.ErrorMessage(err), "inc.yaml:1: services.b.ports") {
		t.Fatalf("an included port range: %v", err)
	}
}

func TestPortCount(t *testing.T) {
	for spec, want := range map[string]int{
		"80": 1, "8080:80": 1, "53/udp": 1, "127.0.0.1:8000-8010:80": 11, "[::1]:1-100:1-100/tcp": 100,
		"1-65535:1-65535/sctp": 65535, "9-1": 1, "x-y": 1, "": 1, "5000-5009": 10,
	} {
		if got := portCount(spec); got != want {
			t.Errorf("portCount(%q) = %d, want %d", spec, got, want)
		}
	}
}

// A panic caught inside compose-go or kompose is meshdock's defect, not
// the user's mistake: internal, with the stack for the log and nothing of
// it shown.
func TestRecoveredPanicsAreInternal(t *testing.T) {
	var nilMap map[string]int
	var r any
	func() {
		defer func() { r = recover() }()
		nilMap["x"] = 1
	}()
	for name, v := range map[string]any{
		"runtime error": r,
		"logrus fatal":  komposeExit{"Unable to retrieve file"},
		"logrus panic":  &logrus.Entry{Message: "service web is broken"},
		"error value":   errors.New("Health check must contain a command"),
	} {
		err := komposeFailure(v)
		if meshdock.ErrorCode(err) != meshdock.EINTERNAL || meshdock.ErrorMessage(err) != "internal error" {
			t.Errorf("%s: %s %q, want internal", name, meshdock.ErrorCode(err), meshdock.ErrorMessage(err))
		}
		if !strings.Contains(err.Error(), "panic in kompose") || !strings.Contains(err.Error(), "goroutine") {
			t.Errorf("%s: the log would lack the cause or the stack: %v", name, err)
		}
	}
}

// A cancelled conversion says so; it is not the input's fault.
func TestCanceledIsCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Convert(ctx, upload("services: {a: {image: x}}\n"), Options{})
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
		if err := CheckFileName(name); meshdock.ErrorCode(err) != meshdock.EINVALID {
			t.Errorf("CheckFileName(%+q) = %v, want invalid", name, err)
		}
	}
	for _, name := range []string{"compose.yaml", "conf/nginx.conf", "données/é.txt", "日本語.yaml", ".env"} {
		if err := CheckFileName(name); err != nil {
			t.Errorf("CheckFileName(%q) = %v", name, err)
		}
	}
}
