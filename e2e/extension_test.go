package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// metadata is the part of metadata.json Docker Desktop reads.
type metadata struct {
	Icon string `json:"icon"`
	VM   struct {
		Composefile string `json:"composefile"`
		Exposes     struct {
			Socket string `json:"socket"`
		} `json:"exposes"`
	} `json:"vm"`
	UI map[string]struct {
		Title   string `json:"title"`
		Root    string `json:"root"`
		Src     string `json:"src"`
		Backend struct {
			Socket string `json:"socket"`
		} `json:"backend"`
	} `json:"ui"`
	Host struct {
		Binaries []map[string][]struct {
			Path string `json:"path"`
		} `json:"binaries"`
	} `json:"host"`
}

// composeFile of the extension: the backend's service.
type extensionCompose struct {
	Services map[string]struct {
		Image   string   `json:"image"`
		Command []string `json:"command"`
		Volumes []string `json:"volumes"`
	} `json:"services"`
	Volumes map[string]any `json:"volumes"`
}

func readExtension(t *testing.T) (metadata, extensionCompose) {
	t.Helper()
	var m metadata
	data, err := os.ReadFile("../metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("metadata.json: %v", err)
	}
	var c extensionCompose
	data, err = os.ReadFile("../" + m.VM.Composefile)
	if err != nil {
		t.Fatalf("vm.composefile %q: %v", m.VM.Composefile, err)
	}
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		t.Fatalf("%s: %v", m.VM.Composefile, err)
	}
	return m, c
}

// flag returns the value after name in a command line.
func flag(cmd []string, name string) string {
	for i, a := range cmd {
		if a == name && i+1 < len(cmd) {
			return cmd[i+1]
		}
	}
	return ""
}

// The extension's files agree with each other and with the server's
// flags, as the extensions SDK documents them.
func TestExtensionMetadata(t *testing.T) {
	m, c := readExtension(t)
	if m.Icon == "" || m.VM.Exposes.Socket == "" || len(m.UI) != 1 {
		t.Fatalf("metadata.json: %+v", m)
	}
	if _, err := os.Stat("../" + m.Icon); err != nil {
		t.Errorf("icon: %v", err)
	}
	tab, ok := m.UI["dashboard-tab"]
	if !ok || tab.Title == "" || tab.Root != "/ui" || tab.Src != "index.html" || tab.Backend.Socket != m.VM.Exposes.Socket {
		t.Errorf("ui.dashboard-tab: %+v (socket %q)", tab, m.VM.Exposes.Socket)
	}
	if len(c.Services) != 1 {
		t.Fatalf("%s: %d services", m.VM.Composefile, len(c.Services))
	}
	for name, s := range c.Services {
		if s.Image != "${DESKTOP_PLUGIN_IMAGE}" {
			t.Errorf("service %s: image %q", name, s.Image)
		}
		sock := flag(s.Command, "--socket")
		if sock != "/run/guest-services/"+m.VM.Exposes.Socket {
			t.Errorf("service %s listens on %q, metadata.json exposes %q", name, sock, m.VM.Exposes.Socket)
		}
		data := flag(s.Command, "--data")
		var hasData, hasDocker bool
		for _, v := range s.Volumes {
			src, dst, _ := strings.Cut(v, ":")
			if dst == data && hasKey(c.Volumes, src) {
				hasData = true
			}
			if src == "/var/run/docker.sock.raw" && strings.HasPrefix(flag(s.Command, "--docker-host"), "unix://"+dst) {
				hasDocker = true
			}
		}
		if !hasData || !hasDocker || !contains(s.Command, "--in-container") {
			t.Errorf("service %s: the data volume at %q %v, the engine's raw socket %v, command %q", name, data, hasData, hasDocker, s.Command)
		}
	}
	oses := map[string]bool{}
	for _, b := range m.Host.Binaries {
		for os, list := range b {
			oses[os] = len(list) == 1 && strings.HasPrefix(list[0].Path, "/"+os+"/meshdock-host")
		}
	}
	if !oses["darwin"] || !oses["windows"] || !oses["linux"] {
		t.Errorf("host binaries: %+v", m.Host.Binaries)
	}
	// The server takes the flags the compose file gives it.
	out, err := exec.Command("go", "run", "../cmd/meshdock", "serve", "-h").CombinedOutput()
	if err != nil && !strings.Contains(string(out), "Usage") {
		t.Fatalf("serve -h: %v\n%s", err, out)
	}
	for _, f := range []string{"-socket", "-data", "-in-container", "-docker-host"} {
		if !strings.Contains(string(out), f) {
			t.Errorf("meshdock serve has no %s flag", f)
		}
	}
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// requiredLabels are the labels Docker Desktop and its marketplace read.
var requiredLabels = []string{
	"org.opencontainers.image.title", "org.opencontainers.image.description", "org.opencontainers.image.vendor",
	"com.docker.desktop.extension.api.version", "com.docker.desktop.extension.icon", "com.docker.extension.screenshots",
	"com.docker.extension.detailed-description", "com.docker.extension.publisher-url", "com.docker.extension.changelog",
}

// extensionImage is the image the tests build once (make extension: the
// Dockerfile's local stage, offline).
const extensionImage = "meshdock/meshdock:e2e"

var (
	buildOnce  sync.Once
	buildError error
)

func buildExtension(t *testing.T, ctx context.Context) string {
	t.Helper()
	buildOnce.Do(func() {
		cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "extension", "EXTENSION_IMAGE="+extensionImage)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildError = fmt.Errorf("make extension: %v\n%s", err, out)
		}
	})
	if buildError != nil {
		t.Fatal(buildError)
	}
	return extensionImage
}

// extensionRun is the extension's backend running as its compose file
// says, its socket in a folder of the test's.
type extensionRun struct {
	name, sock string
	client     *http.Client
}

func runExtension(t *testing.T, ctx context.Context, image string, m metadata, c extensionCompose, extra ...string) *extensionRun {
	t.Helper()
	var command []string
	for _, s := range c.Services {
		command = s.Command
	}
	sockDir := t.TempDir()
	os.Chmod(sockDir, 0o777)
	name := uniqueName("meshdock-ext")
	volume := name + "-data"
	args := append([]string{"run", "-d", "--name", name, "-v", sockDir + ":/run/guest-services", "-v", volume + ":" + flag(command, "--data"),
		"-v", "/var/run/docker.sock:/var/run/docker.sock.raw"}, extra...)
	args = append(append(args, image), command...)
	if out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("docker", "rm", "-f", name).Run()
		_ = exec.Command("docker", "volume", "rm", volume).Run()
	})
	r := &extensionRun{name: name, sock: path.Join(sockDir, m.VM.Exposes.Socket)}
	r.client = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", r.sock)
	}}, Timeout: 30 * time.Second}
	if err := r.waitUp(); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitUp waits for the API to answer on the socket.
func (r *extensionRun) waitUp() error {
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if res, err := r.client.Get("http://meshdock/api/v1/health"); err == nil && res.StatusCode == 200 {
			res.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			logs, _ := exec.Command("docker", "logs", r.name).CombinedOutput()
			return fmt.Errorf("the container's API did not answer on %s:\n%s", r.sock, logs)
		}
	}
}

func (r *extensionRun) restart(ctx context.Context) error {
	if out, err := exec.CommandContext(ctx, "docker", "restart", r.name).CombinedOutput(); err != nil {
		return fmt.Errorf("restart: %v %s", err, out)
	}
	return r.waitUp()
}

func (r *extensionRun) get(t *testing.T, p string, v any) {
	t.Helper()
	res, err := r.client.Get("http://meshdock" + p)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %s %v", p, res.Status, err)
	}
}

// The image built offline (make extension: the Dockerfile's local stage)
// holds every file metadata.json names, carries every required label, and
// runs as its compose file says: the API on the unix socket, the engine
// reached, the host binary for this platform answering, and its state
// kept across a restart on the data volume.
func TestExtensionImage(t *testing.T) {
	requireDocker(t)
	m, c := readExtension(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	image := buildExtension(t, ctx)
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", image, "--format", "{{json .Config.Labels}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	var labels map[string]string
	if err := json.Unmarshal(out, &labels); err != nil {
		t.Fatal(err)
	}
	for _, l := range requiredLabels {
		if strings.TrimSpace(labels[l]) == "" {
			t.Errorf("label %s is missing or empty", l)
		}
	}
	for _, l := range []string{"com.docker.extension.screenshots", "com.docker.extension.additional-urls"} {
		var v []map[string]string
		if err := json.Unmarshal([]byte(labels[l]), &v); err != nil || len(v) == 0 {
			t.Errorf("label %s is not a JSON list: %v", l, err)
		}
	}

	// The files the metadata names, from the image's filesystem.
	files := imageFiles(t, ctx, image)
	want := []string{"metadata.json", m.Icon, m.VM.Composefile, "meshdock", strings.TrimPrefix(m.UI["dashboard-tab"].Root, "/") + "/" + m.UI["dashboard-tab"].Src}
	for _, b := range m.Host.Binaries {
		for _, list := range b {
			for _, p := range list {
				want = append(want, strings.TrimPrefix(p.Path, "/"))
			}
		}
	}
	for _, f := range want {
		if _, ok := files[f]; !ok {
			t.Errorf("the image has no /%s", f)
		}
	}
	if h := files["darwin/meshdock-host"]; len(h) < 4 || !bytes.Equal(h[:4], []byte{0xcf, 0xfa, 0xed, 0xfe}) {
		t.Errorf("darwin/meshdock-host is not a 64-bit Mach-O binary")
	}
	if h := files["windows/meshdock-host.exe"]; len(h) < 2 || string(h[:2]) != "MZ" {
		t.Errorf("windows/meshdock-host.exe is not a Windows binary")
	}
	if out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--entrypoint", "/linux/meshdock-host", image, "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "meshdock-host ") {
		t.Errorf("linux host binary: %v %s", err, out)
	}

	// Run it as the compose file says, the socket on a folder of ours.
	r := runExtension(t, ctx, image, m, c)
	var info struct{ Engine struct{ Reachable bool } }
	r.get(t, "/api/v1/info", &info)
	if !info.Engine.Reachable {
		t.Error("the container does not reach the engine through its raw socket")
	}
	body := `{"name":"kept","files":[{"name":"compose.yaml","content":"services: {web: {image: nginx}}"}]}`
	res, err := r.client.Post("http://meshdock/api/v1/apps", "application/json", strings.NewReader(body))
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("import over the socket: %v %v", err, res.Status)
	}
	res.Body.Close()
	if err := r.restart(ctx); err != nil {
		t.Fatal(err)
	}
	var apps struct{ Apps []struct{ Name string } }
	r.get(t, "/api/v1/apps", &apps)
	if len(apps.Apps) != 1 || apps.Apps[0].Name != "kept" {
		t.Errorf("after a restart the app is gone: %+v", apps)
	}
}

// imageFiles reads the regular files of an image (each one's head).
func imageFiles(t *testing.T, ctx context.Context, image string) map[string][]byte {
	t.Helper()
	id, err := exec.CommandContext(ctx, "docker", "create", image).Output()
	if err != nil {
		t.Fatal(err)
	}
	cid := strings.TrimSpace(string(id))
	defer exec.Command("docker", "rm", cid).Run()
	cmd := exec.CommandContext(ctx, "docker", "export", cid)
	r, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Typeflag == tar.TypeReg {
			head := make([]byte, 16)
			n, _ := io.ReadFull(tr, head)
			files[strings.TrimPrefix(h.Name, "./")] = head[:n]
		}
	}
	_ = cmd.Wait()
	return files
}
