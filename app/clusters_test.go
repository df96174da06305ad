package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
)

// Inside the extension's container a posted kubeconfig is the only one,
// it survives a restart (kept 0600 in the data directory), and servers on
// the host's loopback are reached through host.docker.internal.
func TestClustersInAContainer(t *testing.T) {
	dir := t.TempDir()
	c := app.NewClusters(app.ClustersConfig{DataDir: dir, InContainer: true, NoDefault: true})
	if _, err := c.List(context.Background()); meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || !strings.Contains(meshdock.ErrorMessage(err), "post one") {
		t.Fatalf("before a kubeconfig is posted: %v", err)
	}
	kc := "apiVersion: v1\nkind: Config\nclusters: [{name: dd, cluster: {server: 'https://127.0.0.1:6443'}}]\n" +
		"users: [{name: u, user: {token: t}}]\ncontexts: [{name: docker-desktop, context: {cluster: dd, user: u}}]\ncurrent-context: docker-desktop\n"
	if _, err := c.SetKubeconfig([]byte(kc)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "kubeconfig")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kept: %v %v", fi, err)
	}
	again := app.NewClusters(app.ClustersConfig{DataDir: dir, InContainer: true, NoDefault: true})
	cl, err := again.Cluster("")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := cl.Config()
	if cfg.Server != "https://host.docker.internal:6443" || cfg.Context != "docker-desktop" {
		t.Errorf("after a restart: %s %s", cfg.Context, cfg.Server)
	}
	if n, current, posted, err := again.Summary(); n != 1 || current != "docker-desktop" || !posted || err != nil {
		t.Errorf("summary: %d %s %v %v", n, current, posted, err)
	}
}
