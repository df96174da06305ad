package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The mesh commands' usage errors and refusals, before any cluster is
// reached: none of these cases gets to one (KUBECONFIG names no file, and
// the cases past the checks name a cluster nobody answers at).
func TestMeshCommands(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("KUBECONFIG", filepath.Join(dir, "no-kubeconfig"))
	unreachable := write("kubeconfig", `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: one, context: {cluster: c, user: u}}]
current-context: one
`)
	good := write("values.yaml", "istiod: {pilot: {resources: {requests: {cpu: 100m}}}}\n")
	notYAML := write("broken.yaml", "istiod: [unclosed\n")
	otherRelease := write("consul.yaml", "consul: {server: {replicas: 3}}\n")
	missing := filepath.Join(dir, "missing.yaml")
	usage := []string{"mesh status", "mesh install NAME", "mesh uninstall NAME", "istio, istio-ambient, linkerd, consul, kuma"}

	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr []string
		notStderr      []string
	}{
		{"no subcommand", nil, exitUsage, nil, usage, nil},
		{"unknown subcommand", []string{"upgrade", "istio"}, exitUsage, nil, usage, nil},
		{"help", []string{"-h"}, exitOK, usage, nil, nil},
		{"install without a name", []string{"install"}, exitUsage, nil, []string{"mesh install: name the mesh", "istio, istio-ambient", "Usage: meshdock mesh install NAME"}, nil},
		{"install with flags and no name", []string{"install", "--timeout", "1m"}, exitUsage, nil, []string{"name the mesh"}, nil},
		{"uninstall without a name", []string{"uninstall", "--force"}, exitUsage, nil, []string{"mesh uninstall: name the mesh"}, nil},
		{"install of an unknown mesh", []string{"install", "envoy"}, exitError, nil, []string{"mesh install:", "mesh must be one of", "istio", `not "envoy"`}, nil},
		{"uninstall of an unknown mesh", []string{"uninstall", "envoy"}, exitError, nil, []string{"mesh uninstall:", `not "envoy"`}, nil},
		{"install of two meshes", []string{"install", "istio", "linkerd"}, exitUsage, nil, []string{"one mesh at a time", `"linkerd"`}, nil},
		{"install of two meshes after flags", []string{"install", "--timeout", "1m", "istio", "linkerd"}, exitUsage, nil, []string{"one mesh at a time", `"linkerd"`}, nil},
		{"help of install", []string{"install", "--timeout", "1m", "istio", "-h"}, exitOK, nil, []string{"Usage: meshdock mesh install NAME", "-values", "-helm-wait"}, nil},
		{"flags on both sides of the name", []string{"install", "--timeout", "1m", "istio", "--kubeconfig", "/nonexistent"}, exitError, nil, []string{"/nonexistent"}, nil},
		{"unknown flag", []string{"install", "istio", "--frobnicate"}, exitUsage, nil, []string{"frobnicate", "Usage: meshdock mesh install NAME"}, nil},
		{"uninstall has no --values", []string{"uninstall", "istio", "--values", good}, exitUsage, nil, []string{"-values"}, nil},
		{"install has no --force", []string{"install", "istio", "--force"}, exitUsage, nil, []string{"-force"}, nil},
		{"force neither true nor false", []string{"uninstall", "istio", "--force=maybe"}, exitUsage, nil, []string{"-force"}, nil},
		{"timeout over an hour", []string{"install", "istio", "--timeout", "2h"}, exitError, nil, []string{"timeout must be between 0 and 1h0m0s"}, nil},
		{"timeout over an hour, flags first", []string{"install", "--timeout", "2h", "istio"}, exitError, nil, []string{"timeout must be between 0 and 1h0m0s"}, []string{"unexpected argument"}},
		{"timeout that is no duration", []string{"install", "istio", "--timeout", "1y"}, exitUsage, nil, []string{"-timeout"}, nil},
		{"values file missing", []string{"install", "istio", "--values", missing}, exitError, nil, []string{"--values", "missing.yaml"}, nil},
		{"values file not YAML", []string{"install", "istio", "--values", notYAML}, exitError, nil, []string{"--values", "broken.yaml", "line 1"}, nil},
		{"values file a folder", []string{"install", "istio", "--values", dir}, exitError, nil, []string{"--values"}, nil},
		{"values of another mesh's release", []string{"install", "istio", "--values", otherRelease}, exitError, nil, []string{`"consul" is not a release of istio`, "istio-base, istiod"}, nil},
		{"install without a kubeconfig", []string{"install", "istio", "--values", good}, exitError, nil, []string{"mesh install:", "kubeconfig"}, nil},
		{"install with a kubeconfig that is not there", []string{"install", "istio", "--kubeconfig", "/nonexistent"}, exitError, nil, []string{"mesh install:", "/nonexistent"}, []string{"panic", "goroutine"}},
		{"uninstall with a kubeconfig that is not there", []string{"uninstall", "istio", "--kubeconfig", "/nonexistent"}, exitError, nil, []string{"mesh uninstall:", "/nonexistent"}, []string{"panic", "goroutine"}},
		{"install into a context the kubeconfig lacks", []string{"install", "istio", "--kubeconfig", unreachable, "--context", "nope"}, exitError, nil, []string{"nope"}, nil},
		{"uninstall none", []string{"uninstall", "none", "--kubeconfig", unreachable}, exitError, nil, []string{"mesh uninstall: mesh none has nothing to uninstall"}, nil},
		{"install none", []string{"install", "none", "--kubeconfig", unreachable}, exitOK, []string{"none installs nothing"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"mesh"}, tc.args...), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			for _, w := range tc.notStderr {
				if strings.Contains(stderr.String(), w) {
					t.Errorf("stderr has %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}
