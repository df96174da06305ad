package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshdock/meshdock/backend"
	"github.com/meshdock/meshdock/store"
)

// mainEnv makes the test binary run meshdock itself, so tests can start real
// server processes without building the binary first.
const mainEnv = "MESHDOCK_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// server is a meshdock serve process.
type server struct {
	cmd    *exec.Cmd
	url    string // http://127.0.0.1:PORT, when listening on TCP
	socket string
	stderr *bytes.Buffer
	exited chan error
}

// startServe runs `meshdock serve args...` (the test binary, or bin when
// given) and waits until it says where it listens.
func startServe(t testing.TB, bin string, args ...string) *server {
	t.Helper()
	if bin == "" {
		bin = os.Args[0]
	}
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	s := &server{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	cmd.Stderr = &syncWriter{w: s.stderr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill(); <-s.exited })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		s.exited <- cmd.Wait()
	}()
	want := 0
	for _, a := range args {
		if a == "--addr" || a == "--socket" {
			want++
		}
	}
	for range max(want, 1) {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("meshdock serve exited: %s", s.stderr)
			}
			_, where, found := strings.Cut(line, "serving on ")
			if !found {
				t.Fatalf("unexpected output %q", line)
			}
			if sock, ok := strings.CutPrefix(where, "unix:"); ok {
				s.socket = sock
			} else {
				s.url = strings.TrimSuffix(where, "/")
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("meshdock serve did not start: %s", s.stderr)
		}
	}
	go func() {
		for range lines {
		}
	}()
	return s
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// stop sends sig and waits for the process to exit.
func (s *server) stop(t testing.TB, sig syscall.Signal) error {
	t.Helper()
	s.cmd.Process.Signal(sig)
	select {
	case err := <-s.exited:
		s.exited <- err // for the cleanup
		return err
	case <-time.After(15 * time.Second):
		t.Fatalf("meshdock serve did not exit after %v", sig)
	}
	return nil
}

func socketClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
}

const testCompose = "services:\n  web:\n    image: nginx:1.27\n    ports: [\"8080:80\"]\n"

func importBody(name string) []byte {
	b, _ := json.Marshal(map[string]any{"name": name, "files": []map[string]string{{"name": "compose.yaml", "content": testCompose}}})
	return b
}

func TestServeFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--addr", "0.0.0.0:7878"}, exitUsage, "not a loopback address"},
		{[]string{"--addr", "192.0.2.1:7878"}, exitUsage, "not a loopback address"},
		{[]string{"--addr", "7878"}, exitUsage, "--addr"},
		{[]string{"--nope"}, exitUsage, "flag provided but not defined"},
		{[]string{"extra"}, exitUsage, "unexpected argument"},
		{[]string{"-h"}, exitOK, "Usage: meshdock serve"},
	} {
		var stdout, stderr bytes.Buffer
		if code := runServe(c.args, &stdout, &stderr); code != c.code || !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("serve %v: exit %d, stderr %q; want %d and %q", c.args, code, stderr.String(), c.code, c.msg)
		}
	}
	// Folder imports are off unless asked for, and the help says who may
	// then read what.
	var help bytes.Buffer
	runServe([]string{"-h"}, io.Discard, &help)
	if h := help.String(); !strings.Contains(h, "[--allow-dir]") || !strings.Contains(h, "Whoever can reach the port") || strings.Contains(h, "default true") {
		t.Errorf("serve -h:\n%s", h)
	}
	var stdout bytes.Buffer
	if code := run([]string{"version"}, &stdout, io.Discard); code != exitOK || !strings.HasPrefix(stdout.String(), "meshdock dev ") {
		t.Errorf("version: %d %q", code, stdout.String())
	}
}

// TestServeBothListeners starts the real server on a socket and a port,
// imports over the socket, reads over TCP, and stops it with SIGTERM.
func TestServeBothListeners(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped under -short")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "run", "meshdock.sock")
	s := startServe(t, "", "--socket", sock, "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data"))
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v: %v", fi.Mode(), err)
	}
	resp, err := socketClient(sock).Post("http://meshdock/api/v1/apps", "application/json", bytes.NewReader(importBody("over-socket")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("import over the socket: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(s.url + "/api/v1/apps")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "over-socket") {
		t.Fatalf("apps over TCP: %s", body)
	}
	// A second server on the same socket is refused while the first runs.
	var stderr bytes.Buffer
	if code := runServe([]string{"--socket", sock, "--data", filepath.Join(dir, "other")}, io.Discard, &stderr); code != exitError || !strings.Contains(stderr.String(), "in use") {
		t.Fatalf("second server on the socket: %d %s", code, stderr.String())
	}
	if err := s.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, s.stderr)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("the socket file is left behind: %v", err)
	}
}

// TestServeExample imports the example app on the first start only.
func TestServeExample(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped under -short")
	}
	data := t.TempDir()
	count := func() int {
		s := startServe(t, "", "--addr", "127.0.0.1:0", "--data", data, "--example", "../../examples/shop")
		defer s.stop(t, syscall.SIGTERM)
		resp, err := http.Get(s.url + "/api/v1/apps")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list struct{ Apps []struct{ Name string } }
		json.NewDecoder(resp.Body).Decode(&list)
		if len(list.Apps) > 0 && list.Apps[0].Name != "shop" {
			t.Fatalf("apps: %+v", list.Apps)
		}
		return len(list.Apps)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d apps after the first start, want the example", n)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d apps after the second start: the example was imported again", n)
	}
}

// TestServeSIGKILL kills the server with SIGKILL during a burst of imports:
// the store opens cleanly and every import it acknowledged (201) is there.
func TestServeSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped under -short")
	}
	data := t.TempDir()
	s := startServe(t, "", "--addr", "127.0.0.1:0", "--data", data)
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", s.url+"/api/v1/apps", bytes.NewReader(importBody(fmt.Sprintf("app-%d-%d", w, i))))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(backend.ClientHeader, "1")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // killed
				}
				var app struct{ ID string }
				err = json.NewDecoder(resp.Body).Decode(&app)
				resp.Body.Close()
				if resp.StatusCode == 201 && err == nil {
					mu.Lock()
					acked = append(acked, app.ID)
					mu.Unlock()
				}
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.stop(t, syscall.SIGKILL) // imports are still in flight
	close(stop)
	wg.Wait()
	if len(acked) < 40 {
		t.Fatalf("only %d imports acknowledged before the deadline", len(acked))
	}

	db, err := store.Open(context.Background(), filepath.Join(data, "meshdock.db"))
	if err != nil {
		t.Fatalf("the store does not open after SIGKILL: %v", err)
	}
	defer db.Close()
	for _, id := range acked {
		if _, err := db.App(context.Background(), id); err != nil {
			t.Errorf("acknowledged app %s is gone after SIGKILL: %v", id, err)
		}
	}
	t.Logf("%d acknowledged imports survived SIGKILL", len(acked))
}

// TestServeDataDirIsPrivate: the default data directory is meshdock's own
// and made private whatever it holds; one given with --data and shared
// with other files keeps its mode, with a warning, while the store's files
// are private in both.
func TestServeDataDirIsPrivate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped under -short")
	}
	mode := func(path string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	shared := func() string {
		dir := filepath.Join(t.TempDir(), "meshdock")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
			t.Fatal(err)
		}
		return dir
	}

	def := shared()
	t.Setenv("XDG_DATA_HOME", filepath.Dir(def))
	s := startServe(t, "", "--addr", "127.0.0.1:0")
	s.stop(t, syscall.SIGTERM)
	if m := mode(def); m != 0o700 {
		t.Errorf("the default data directory has mode %v, want 0700", m)
	}
	if m := mode(filepath.Join(def, "meshdock.db")); m != 0o600 {
		t.Errorf("the store has mode %v, want 0600", m)
	}

	given := shared()
	s = startServe(t, "", "--addr", "127.0.0.1:0", "--data", given)
	s.stop(t, syscall.SIGTERM)
	if m := mode(given); m != 0o755 {
		t.Errorf("a data directory shared with other files has mode %v, want it left 0755", m)
	}
	if m := mode(filepath.Join(given, "meshdock.db")); m != 0o600 {
		t.Errorf("the store has mode %v, want 0600", m)
	}
	if !strings.Contains(s.stderr.String(), "can be entered by other users") {
		t.Errorf("no warning about the open data directory:\n%s", s.stderr)
	}
}
