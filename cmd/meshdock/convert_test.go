package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConvertCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	compose := write("compose.yaml", "services:\n  web:\n    image: nginx:${TAG}\n    ports: [\"8080:80\"]\n    sysctls: {net.core.somaxconn: 1024}\n")
	override := write("compose.override.yaml", "services:\n  web:\n    environment: {MODE: override}\n")
	envFile := write("prod.env", "TAG=1.27\n")
	broken := write("broken.yaml", "services:\n  web:\n    image: nginx\n   ports: [80]\n")

	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string
		stderr     []string
		notStdout  []string
		notStderrr []string
	}{
		{"yaml with override and env file", []string{"-f", compose, "-f", override, "--env-file", envFile, "-p", "demo", "-n", "team"},
			exitOK, []string{"image: nginx:1.27", "MODE", "namespace: team", "app.kubernetes.io/part-of: demo"}, []string{"sysctls"}, nil, nil},
		{"json", []string{"-f", compose, "-e", "TAG=2", "-o", "json", "-q"}, exitOK, []string{`"kind": "List"`, `"image": "nginx:2"`}, nil, nil, []string{"warning"}},
		{"unset variable warns", []string{"-f", compose}, exitOK, []string{"image: 'nginx:'"}, []string{"TAG is not set"}, nil, nil},
		{"bad yaml names file and line", []string{"-f", broken}, exitError, nil, []string{"broken.yaml", "line 4"}, []string{"apiVersion"}, nil},
		{"missing file", []string{"-f", filepath.Join(dir, "nope.yaml")}, exitError, nil, []string{"nope.yaml"}, nil, nil},
		{"bad output format", []string{"-f", compose, "-o", "xml"}, exitUsage, nil, []string{"yaml, json, paths, kustomize or helm"}, nil, nil},
		{"paths", []string{"-f", compose, "-e", "TAG=2", "-o", "paths"}, exitOK, []string{"FROM", "(outside)  web", "80/TCP", "published on the host as 8080"}, nil, nil, nil},
		{"rendered for a mesh with its rules", []string{"-f", compose, "-e", "TAG=2", "-p", "demo", "--mesh", "istio", "--authz", "enforce"}, exitOK,
			[]string{"kind: Namespace", "istio-injection: enabled", "kind: AuthorizationPolicy", "kind: NetworkPolicy", "namespace: demo", "kind: ServiceAccount"},
			[]string{"rule: AuthorizationPolicy web: allow anyone (published) to port 80/TCP"}, nil, nil},
		{"export needs a folder", []string{"-f", compose, "-o", "helm"}, exitUsage, nil, []string{"--out"}, nil, nil},
		{"bad authz", []string{"-f", compose, "--authz", "strict"}, exitUsage, nil, []string{"authz must be one of off, audit, enforce"}, nil, nil},
		{"audit without a mesh", []string{"-f", compose, "--authz", "audit"}, exitUsage, nil, []string{"audit needs a mesh"}, nil, nil},
		{"bad mesh", []string{"-f", compose, "--mesh", "cilium"}, exitUsage, nil, []string{"mesh must be one of"}, nil, nil},
		{"unknown flag", []string{"--frobnicate"}, exitUsage, nil, []string{"frobnicate"}, nil, nil},
		{"stray argument", []string{"-f", compose, "extra"}, exitUsage, nil, []string{"unexpected argument"}, nil, nil},
		{"bad bind mode", []string{"-f", compose, "--bind-mounts", "copy"}, exitUsage, nil, []string{"--bind-mounts"}, nil, nil},
		{"bad -e", []string{"-f", compose, "-e", "NOVALUE"}, exitUsage, nil, []string{"KEY=VALUE"}, nil, nil},
	}
	for _, format := range []string{"kustomize", "helm"} {
		out := filepath.Join(dir, format)
		var stdout, stderr bytes.Buffer
		if code := run([]string{"convert", "-f", compose, "-e", "TAG=2", "-q", "-o", format, "--authz", "enforce", "--out", out}, &stdout, &stderr); code != exitOK {
			t.Fatalf("-o %s: exit %d: %s", format, code, stderr.String())
		}
		want := map[string][]string{"kustomize": {"base/kustomization.yaml", "overlays/linkerd/kustomization.yaml", "overlays/docker-desktop/kustomization.yaml"},
			"helm": {"Chart.yaml", "values.yaml", "templates/deployment-web.yaml"}}[format]
		for _, f := range want {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Errorf("-o %s: %v", format, err)
			}
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"convert"}, tc.args...), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", code, tc.code, stderr.String())
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tc.notStdout {
				if strings.Contains(stdout.String(), w) {
					t.Errorf("stdout has %q", w)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			for _, w := range tc.notStderrr {
				if strings.Contains(stderr.String(), w) {
					t.Errorf("stderr has %q", w)
				}
			}
		})
	}

	t.Run("standard input", func(t *testing.T) {
		stdin = strings.NewReader("services:\n  api:\n    image: example/api:1\n    expose: [\"8000\"]\n")
		defer func() { stdin = os.Stdin }()
		var stdout, stderr bytes.Buffer
		if code := run([]string{"convert", "-f", "-", "-p", "piped"}, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "app.kubernetes.io/part-of: piped") || !strings.Contains(stdout.String(), "port: 8000") {
			t.Errorf("unexpected output:\n%s", stdout.String())
		}
	})

	t.Run("out directory", func(t *testing.T) {
		out := filepath.Join(dir, "manifests")
		var stdout, stderr bytes.Buffer
		if code := run([]string{"convert", "-f", compose, "-e", "TAG=1", "--out", out, "-o", "json"}, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		for _, name := range []string{"web-deployment.json", "web-service.json"} {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			var obj map[string]any
			if err := json.Unmarshal(b, &obj); err != nil || obj["kind"] == nil {
				t.Errorf("%s is not an object: %v", name, err)
			}
		}
		if stdout.Len() != 0 {
			t.Errorf("stdout is not empty with --out")
		}
	})
}
