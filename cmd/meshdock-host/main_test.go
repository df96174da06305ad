package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
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

func TestProjectFilesStayInTheProject(t *testing.T) {
	dir := t.TempDir()
	proj := filepath.Join(dir, "proj")
	os.MkdirAll(filepath.Join(proj, "secrets"), 0o755)
	os.WriteFile(filepath.Join(proj, "compose.yaml"), []byte("services: {}\n"), 0o644)
	os.WriteFile(filepath.Join(proj, "secrets", "pw.txt"), []byte("pw"), 0o600)
	os.WriteFile(filepath.Join(dir, "outside.txt"), []byte("no"), 0o600)
	os.Symlink(filepath.Join(dir, "outside.txt"), filepath.Join(proj, "link.txt"))
	os.WriteFile(filepath.Join(proj, "big.yaml"), bytes.Repeat([]byte("a"), maxFileSize+1), 0o644)
	var out, errOut bytes.Buffer
	if code := run([]string{"project-files", "--dir", proj, "compose.yaml", filepath.Join(proj, "secrets", "pw.txt")}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got struct{ Files []file }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got.Files) != 2 || got.Files[1].Name != "secrets/pw.txt" || got.Files[1].Content != "pw" {
		t.Fatalf("files: %v %s", err, out.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dir", proj, "../outside.txt"}, "escapes"},
		{[]string{"--dir", proj, filepath.Join(dir, "outside.txt")}, "not inside the project"},
		{[]string{"--dir", proj, "link.txt"}, "escapes"},
		{[]string{"--dir", proj, "secrets"}, "not a regular file"},
		{[]string{"--dir", proj, "big.yaml"}, "over 1 MiB"},
		{[]string{"--dir", proj, "none.yaml"}, "no such file"},
		{[]string{"--dir", "proj", "compose.yaml"}, "absolute path"},
		{[]string{"compose.yaml"}, "usage"},
	} {
		out.Reset()
		errOut.Reset()
		if code := run(append([]string{"project-files"}, c.args...), &out, &errOut); code == 0 || !strings.Contains(errOut.String(), c.want) || out.Len() != 0 {
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
