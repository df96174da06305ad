package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestKubeconfigIsSelfContained(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte(`apiVersion: v1
kind: Config
current-context: dd
clusters:
- {name: dd, cluster: {server: "https://127.0.0.1:6443", certificate-authority: `+ca+`}}
- {name: other, cluster: {server: "https://10.0.0.1"}}
users:
- {name: dd, user: {token: secret-token}}
- {name: other, user: {token: other-token}}
contexts:
- {name: dd, context: {cluster: dd, user: dd}}
- {name: other, context: {cluster: other, user: other}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", cfg)
	var out, errOut bytes.Buffer
	if code := run([]string{"kubeconfig"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	s := out.String()
	if !strings.Contains(s, "certificate-authority-data:") || strings.Contains(s, ca) || strings.Contains(s, "other") ||
		!strings.Contains(s, "current-context: dd") || !strings.Contains(s, "secret-token") {
		t.Errorf("kubeconfig:\n%s", s)
	}
	t.Setenv("KUBECONFIG", filepath.Join(dir, "none"))
	if code := run([]string{"kubeconfig"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no current context") {
		t.Errorf("no kubeconfig: %d %s", code, errOut.String())
	}
}

// A project's files are read as a folder import reads them: the compose
// files, .env and the env files, and what they name (an included file, a
// secret, an env_file of a service under a profile), and nothing outside
// the project, through a link or a path.
func TestProjectFilesAsAFolderImport(t *testing.T) {
	dir := t.TempDir()
	proj := filepath.Join(dir, "proj")
	os.MkdirAll(filepath.Join(proj, "secrets"), 0o755)
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(proj, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("compose.yaml", "include: [more.yaml]\nservices:\n  web:\n    image: nginx:${TAG}\n    secrets: [pw]\n  debug:\n    image: busybox\n    profiles: [debug]\n    env_file: debug.env\nsecrets:\n  pw: {file: secrets/pw.txt}\n")
	write("more.yaml", "services:\n  cache:\n    image: redis\n")
	write("secrets/pw.txt", "pw")
	write("debug.env", "LEVEL=debug\n")
	write(".env", "TAG=1.27\n")
	write("unused.txt", "not named by the project")
	os.WriteFile(filepath.Join(dir, "outside.txt"), []byte("services: {outside: {image: marker-outside}}\n"), 0o600)
	os.Symlink(filepath.Join(dir, "outside.txt"), filepath.Join(proj, "link.txt"))
	var out, errOut bytes.Buffer
	if code := run([]string{"project-files", "--dir", proj, filepath.Join(proj, "compose.yaml")}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got struct {
		Files        []file
		ComposeFiles []string
		EnvFiles     []string
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, f := range got.Files {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != ".env compose.yaml debug.env more.yaml secrets/pw.txt" || strings.Join(got.ComposeFiles, " ") != "compose.yaml" {
		t.Errorf("files %q, compose files %q", names, got.ComposeFiles)
	}

	// A second env file given as compose recorded it.
	write("prod.env", "TAG=2\n")
	out.Reset()
	if code := run([]string{"project-files", "--dir", proj, "--env-file", filepath.Join(proj, "prod.env"), "compose.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || strings.Join(got.EnvFiles, " ") != "prod.env" {
		t.Errorf("env files %q: %v", got.EnvFiles, err)
	}

	write("binary.yaml", "services:\n  x:\n    image: x\n    secrets: [cert]\nsecrets:\n  cert: {file: cert.p12}\n")
	write("cert.p12", "\x30\x82\xff\xfe\x00\x01")
	home := filepath.Join(dir, "home")
	os.MkdirAll(filepath.Join(home, "proj"), 0o755)
	os.WriteFile(filepath.Join(home, "proj", "compose.yaml"), []byte("services: {}\n"), 0o644)
	t.Setenv("HOME", home)
	// A service of a profile nobody started names a file that is not
	// there, as docker compose allows: read with the running services'.
	write("unstarted.yaml", "services:\n  web:\n    image: nginx\n  debug:\n    image: busybox\n    profiles: [debug]\n    env_file: gone.env\n")
	out.Reset()
	if code := run([]string{"project-files", "--dir", proj, "--service", "web", "--", "unstarted.yaml"}, &out, &errOut); code != 0 {
		t.Errorf("a missing file of an unstarted profile: exit %d: %s", code, errOut.String())
	}
	write("escape.yaml", "services:\n  x:\n    image: x\n    env_file: link.txt\n")
	write("escape2.yaml", "services:\n  x:\n    image: x\n    env_file: ../outside.txt\n")
	os.WriteFile(filepath.Join(proj, "big.yaml"), bytes.Repeat([]byte("#"), 5<<20), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dir", proj, "../outside.txt"}, "not inside the project"},
		{[]string{"--dir", proj, filepath.Join(dir, "outside.txt")}, "not inside the project"},
		{[]string{"--dir", proj, "link.txt"}, "link.txt: compose file not found"},
		{[]string{"--dir", proj, "escape.yaml"}, "link.txt"},
		{[]string{"--dir", proj, "escape2.yaml"}, "outside.txt"},
		{[]string{"--dir", proj, "secrets"}, "secrets"},
		{[]string{"--dir", proj, "big.yaml"}, "big.yaml"},
		{[]string{"--dir", proj, "none.yaml"}, "none.yaml"},
		{[]string{"--dir", "proj", "compose.yaml"}, "absolute path"},
		{[]string{"--dir", filepath.Join(dir, "gone"), "compose.yaml"}, "does not exist"},
		{[]string{"--dir", proj, "--", "--dir=/"}, "may not start with -"},
		{[]string{"--dir", proj, "binary.yaml"}, "not UTF-8 text"},
		// The folder is anyone's to name in a label: never a disk's root,
		// a system folder, the home or above it.
		{[]string{"--dir", "/", "compose.yaml"}, "root of the disk"},
		{[]string{"--dir", "/etc", "passwd"}, "system folders"},
		{[]string{"--dir", home, "proj/compose.yaml"}, "your home"},
		{[]string{"--dir", filepath.Dir(home), "home/proj/compose.yaml"}, "your home"},
		{[]string{"compose.yaml"}, "usage"},
		{[]string{"--dir", proj}, "usage"},
		{[]string{"--dir", proj, "--service", "debug", "unstarted.yaml"}, "gone.env"},
	} {
		out.Reset()
		errOut.Reset()
		code := run(append([]string{"project-files"}, c.args...), &out, &errOut)
		if code == 0 || !strings.Contains(errOut.String(), c.want) || out.Len() != 0 || strings.Contains(errOut.String(), "marker-outside") {
			t.Errorf("%q: exit %d %q, want %q", c.args, code, errOut.String(), c.want)
		}
	}
}

func TestVersionAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "meshdock-host ") {
		t.Errorf("--version: %d %q", code, out.String())
	}
	if code := run([]string{"nope"}, &out, &errOut); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
}
