package kube

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshdock/meshdock"
)

// twoContexts is a kubeconfig with two clusters; "dev" is current and has no
// namespace, "staging" has one.
const twoContexts = `apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
- name: staging
  cluster: {server: "https://127.0.0.2:7443", insecure-skip-tls-verify: true}
users:
- name: me
  user: {token: secret}
contexts:
- name: dev
  context: {cluster: dev, user: me}
- name: staging
  context: {cluster: staging, user: me, namespace: shop}
current-context: dev
`

func TestLoad(t *testing.T) {
	tests := []struct {
		name, context                   string
		wantContext, wantServer, wantNS string
	}{
		{"current context", "", "dev", "https://127.0.0.1:6443", "default"},
		{"chosen context", "staging", "staging", "https://127.0.0.2:7443", "shop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load([]byte(twoContexts), tt.context)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Context != tt.wantContext || cfg.Server != tt.wantServer || cfg.Namespace != tt.wantNS {
				t.Errorf("got context %q server %q namespace %q, want %q %q %q",
					cfg.Context, cfg.Server, cfg.Namespace, tt.wantContext, tt.wantServer, tt.wantNS)
			}
			rc := cfg.REST()
			if rc == nil || rc.BearerToken != "secret" || rc.UserAgent != "meshdock" || rc.QPS != clientQPS {
				t.Errorf("REST() = %+v, want the context's token, our user agent and QPS", rc)
			}
			rc.BearerToken = "changed"
			if cfg.REST().BearerToken != "secret" {
				t.Error("REST() must return a copy")
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	noCurrent := strings.Replace(twoContexts, "current-context: dev", "", 1)
	tests := []struct {
		name, kubeconfig, context, code, inMessage string
	}{
		{"unknown context", twoContexts, "prod", meshdock.ENOTFOUND, `no context "prod"`},
		{"not yaml", "{{{", "", meshdock.EINVALID, "kubeconfig"},
		{"empty", "", "", meshdock.EINVALID, "no context given"},
		{"no current context", noCurrent, "", meshdock.EINVALID, "no context given"},
		{"context without cluster", strings.Replace(twoContexts, "{cluster: staging,", "{cluster: gone,", 1), "staging", meshdock.EINVALID, `no cluster "gone"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.kubeconfig), tt.context)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if got := meshdock.ErrorCode(err); got != tt.code {
				t.Errorf("code %q, want %q (%v)", got, tt.code, err)
			}
			if !strings.Contains(err.Error(), tt.inMessage) {
				t.Errorf("error %q does not mention %q", err, tt.inMessage)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	// A relative certificate path is relative to the kubeconfig's folder.
	withFile := strings.Replace(twoContexts, "{token: secret}", "{token: secret, client-certificate: certs/me.crt, client-key: certs/me.key}", 1)
	if err := os.WriteFile(path, []byte(withFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"me.crt", "me.key"} {
		if err := os.WriteFile(filepath.Join(dir, "certs", f), []byte("unused"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := LoadFile(path, "staging")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Context != "staging" || cfg.Namespace != "shop" {
		t.Errorf("got %+v", cfg)
	}
	if got, want := cfg.REST().CertFile, filepath.Join(dir, "certs", "me.crt"); got != want {
		t.Errorf("CertFile %q, want %q", got, want)
	}

	_, err = LoadFile(filepath.Join(dir, "missing"), "")
	if meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Errorf("missing file: %v, want a not_found error", err)
	}
}

func TestLoadDefault(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	// kubectl merges the files of $KUBECONFIG; the first to set a value wins.
	other := strings.NewReplacer("current-context: dev", "current-context: other", "name: dev", "name: other").Replace(twoContexts)
	if err := os.WriteFile(a, []byte(twoContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", a+string(os.PathListSeparator)+b)
	cfg, err := LoadDefault("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Context != "dev" {
		t.Errorf("current context %q, want dev from the first file", cfg.Context)
	}
	if cfg, err = LoadDefault("other"); err != nil || cfg.Server != "https://127.0.0.1:6443" {
		t.Errorf("context from the second file: %+v, %v", cfg, err)
	}
}

func TestContexts(t *testing.T) {
	names, current, err := Contexts([]byte(twoContexts))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "dev,staging" || current != "dev" {
		t.Errorf("Contexts = %v, %q", names, current)
	}
}

func TestNoCluster(t *testing.T) {
	var c Cluster
	if _, err := c.Apply(t.Context(), nil, ApplyOptions{}); !errors.Is(err, ErrNoCluster) {
		t.Errorf("Apply: %v", err)
	}
	if err := c.Watch(t.Context(), nil, WatchOptions{}); !errors.Is(err, ErrNoCluster) {
		t.Errorf("Watch: %v", err)
	}
	if _, err := c.Config(); !errors.Is(err, ErrNoCluster) {
		t.Errorf("Config: %v", err)
	}
	if _, err := c.Dynamic(); !errors.Is(err, ErrNoCluster) {
		t.Errorf("Dynamic: %v", err)
	}
	if _, err := c.Mapper(); !errors.Is(err, ErrNoCluster) {
		t.Errorf("Mapper: %v", err)
	}
	if _, err := NewCluster(Config{}); !errors.Is(err, ErrNoCluster) {
		t.Errorf("NewCluster(zero Config): %v", err)
	}
	if meshdock.ErrorCode(ErrNoCluster) != meshdock.EUNAVAILABLE {
		t.Errorf("ErrNoCluster has code %q", meshdock.ErrorCode(ErrNoCluster))
	}
}
