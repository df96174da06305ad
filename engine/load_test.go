package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/engine"
)

// Node images: testdata/fakectr as the main process and, as the node
// has them, as ctr and containerd on its PATH.
const (
	kindNode = "FROM scratch\nCOPY fakectr /usr/local/bin/ctr\nCOPY fakectr /usr/local/bin/containerd\nENV PATH=/usr/local/bin\nENTRYPOINT [\"ctr\", \"sleep\"]\n"
	ctrNode  = "FROM scratch\nCOPY fakectr /bin/ctr\nENTRYPOINT [\"/bin/ctr\", \"sleep\"]\n"
	bareNode = "FROM scratch\nCOPY fakectr /sleeper\nENTRYPOINT [\"/sleeper\", \"sleep\"]\n"
)

// nodeImage builds an image that passes for a cluster node.
func nodeImage(t testing.TB, e engine.Engine, c *client.Client, dockerfile string) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "fakectr"), "./testdata/fakectr")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build testdata/fakectr: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := testTag(t, c, "node")
	if err := e.Build(context.Background(), engine.BuildSpec{Tag: tag, Context: os.DirFS(dir)}, nil); err != nil {
		t.Fatalf("build the node image: %v", err)
	}
	return tag
}

// startNode runs a node container named name; env goes to it, and so to
// what runs in it. It carries kind's label of cluster, when given.
func startNode(t testing.TB, c *client.Client, tag, name string, start bool, cluster string, env ...string) string {
	t.Helper()
	ctx := context.Background()
	cfg := &container.Config{Image: tag, Hostname: name, Env: env}
	if cluster != "" {
		cfg.Labels = map[string]string{"io.x-k8s.kind.cluster": cluster}
	}
	created, err := c.ContainerCreate(ctx, cfg, &container.HostConfig{NetworkMode: "none"}, nil, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true})
	})
	if start {
		if err := c.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return created.ID
}

// apiServerOf runs a container of cluster that publishes port 6443 on
// 127.0.0.1, as kind's control-plane node publishes its API server, and
// returns the host's port.
func apiServerOf(t *testing.T, c *client.Client, tag, cluster string) int {
	t.Helper()
	ctx := context.Background()
	port := nat.Port("6443/tcp")
	created, err := c.ContainerCreate(ctx,
		&container.Config{Image: tag, Labels: map[string]string{"io.x-k8s.kind.cluster": cluster}, ExposedPorts: nat.PortSet{port: {}}},
		&container.HostConfig{PortBindings: nat.PortMap{port: {{HostIP: "127.0.0.1"}}}}, nil, nil, cluster+"-api")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true}) })
	if err := c.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := c.ContainerInspect(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range info.NetworkSettings.Ports[port] {
		if p, err := strconv.Atoi(b.HostPort); err == nil {
			return p
		}
	}
	t.Fatal("the API server's container publishes no port")
	return 0
}

// execOutput runs cmd in a container and returns its standard output.
func execOutput(t *testing.T, c *client.Client, id string, cmd ...string) string {
	t.Helper()
	ctx := context.Background()
	created, err := c.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := c.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, conn.Reader); err != nil {
		t.Fatal(err)
	}
	if stderr.Len() > 0 {
		t.Errorf("%v: %s", cmd, stderr.String())
	}
	return stdout.String()
}

func TestLoadImage(t *testing.T) {
	e, c := realEngine(t)
	ctx := context.Background()

	app := testTag(t, c, "app-web")
	if err := e.Build(ctx, engine.BuildSpec{Tag: app, Context: fstest.MapFS{
		"Dockerfile": {Data: []byte("FROM scratch\nCOPY index.html /srv/\n")},
		"index.html": {Data: bytes.Repeat([]byte("<p>meshdock</p>\n"), 1<<16)},
	}}, nil); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	withCtr, onlyCtr, withoutCtr := nodeImage(t, e, c, kindNode), nodeImage(t, e, c, ctrNode), nodeImage(t, e, c, bareNode)
	t.Logf("built the node images in %s", time.Since(start).Round(time.Millisecond))
	suffix := app[strings.LastIndex(app, ":")+1:]
	node := "meshdock-test-control-plane-" + suffix
	cluster := "meshdock-test-" + suffix
	nodeID := startNode(t, c, withCtr, node, true, cluster)
	bare := "meshdock-test-minikube-" + suffix
	bareID := startNode(t, c, withoutCtr, bare, true, cluster)
	full := "meshdock-test-full-" + suffix
	fullID := startNode(t, c, withCtr, full, true, cluster, "FAKECTR_FAIL=failed to ingest layer: no space left on device")
	stopped := "meshdock-test-stopped-" + suffix
	stoppedID := startNode(t, c, withCtr, stopped, false, cluster)
	// A container of another cluster (or of none) named like a node of
	// this one is never taken for it.
	other := "meshdock-test-other-" + suffix
	startNode(t, c, withCtr, other, true, "another-"+suffix)
	apiPort := apiServerOf(t, c, withCtr, cluster)

	got, err := e.NodeContainers(ctx, "127.0.0.1", apiPort, []string{node, "no-such-node-" + suffix, bare, stopped, other})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[node] != nodeID || got[bare] != bareID {
		t.Errorf("NodeContainers: %v; want %s and %s", got, node, bare)
	}
	if got, err := e.NodeContainers(ctx, "127.0.0.1", apiPort, []string{"meshdock-test"}); err != nil || len(got) != 0 {
		t.Errorf("NodeContainers of a part of a name: %v, %v", got, err)
	}
	if got, err := e.NodeContainers(ctx, "127.0.0.2", apiPort, []string{node, bare}); err != nil || len(got) != 0 {
		t.Errorf("NodeContainers for an API server on another host with that port: %v, %v", got, err)
	}
	if got, err := e.NodeContainers(ctx, "127.0.0.1", apiPort+1, []string{node, bare}); err != nil || len(got) != 0 {
		t.Errorf("NodeContainers for an API server no container of the engine publishes: %v, %v", got, err)
	}

	start = time.Now()
	if err := e.LoadImage(ctx, app, nodeID); err != nil {
		t.Fatalf("LoadImage: %v", err)
	}
	t.Logf("loaded %s (1 MiB) in %s", app, time.Since(start).Round(time.Millisecond))
	// The fake's containerd names the "native" snapshotter: LoadImage
	// passes it on, as kind does.
	if ls := execOutput(t, c, nodeID, "ctr", "--namespace=k8s.io", "images", "ls"); ls != app+" native\n" {
		t.Errorf("images in the node: %q", ls)
	}

	// Without containerd to ask, ctr is left to its default.
	worker := "meshdock-test-worker-" + suffix
	workerID := startNode(t, c, onlyCtr, worker, true, "")
	if err := e.LoadImage(ctx, app, workerID); err != nil {
		t.Fatalf("LoadImage into a node without containerd: %v", err)
	}
	if ls := execOutput(t, c, workerID, "ctr", "--namespace=k8s.io", "images", "ls"); ls != app+" default\n" {
		t.Errorf("images in the node without containerd: %q", ls)
	}

	err = e.LoadImage(ctx, app, bareID)
	if msg := meshdock.ErrorMessage(err); meshdock.ErrorCode(err) != meshdock.EUNSUPPORTED ||
		!strings.Contains(msg, "could not be loaded into node "+bare) || !strings.Contains(msg, "has no ctr") {
		t.Errorf("LoadImage into a node without ctr: %v", err)
	}

	err = e.LoadImage(ctx, app, fullID)
	if msg := meshdock.ErrorMessage(err); meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE ||
		!strings.Contains(msg, "could not be loaded into node "+full) || !strings.Contains(msg, "ctr exited with code 1: ctr: failed to ingest layer: no space left on device") {
		t.Errorf("LoadImage that ctr refuses: %v", err)
	}

	if err := e.LoadImage(ctx, app, stoppedID); meshdock.ErrorCode(err) != meshdock.ECONFLICT {
		t.Errorf("LoadImage into a stopped node: %v", err)
	}
	if err := e.LoadImage(ctx, "meshdock-enginetest-absent:"+suffix, nodeID); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Errorf("LoadImage of an unknown image: %v", err)
	}
	if err := e.LoadImage(ctx, app, "meshdock-no-such-container-"+suffix); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Errorf("LoadImage into an unknown container: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := e.LoadImage(canceled, app, nodeID); !errors.Is(err, context.Canceled) {
		t.Errorf("LoadImage canceled: %v", err)
	}
	if ls := execOutput(t, c, nodeID, "ctr", "--namespace=k8s.io", "images", "ls"); ls != app+" native\n" {
		t.Errorf("images in the node after the failures: %q", ls)
	}
}

// BenchmarkLoadImage loads a 16 MiB image into a node container.
func BenchmarkLoadImage(b *testing.B) {
	e, c := realEngine(b)
	ctx := context.Background()
	app := testTag(b, c, "app-bench")
	fsys := fstest.MapFS{"Dockerfile": {Data: []byte("FROM scratch\nCOPY data /srv/\n")}}
	data := make([]byte, 16<<20)
	rand.Read(data)
	fsys["data"] = &fstest.MapFile{Data: data}
	if err := e.Build(ctx, engine.BuildSpec{Tag: app, Context: fsys}, nil); err != nil {
		b.Fatal(err)
	}
	name := "meshdock-bench-control-plane-" + app[strings.LastIndex(app, ":")+1:]
	node := startNode(b, c, nodeImage(b, e, c, kindNode), name, true, "")
	b.SetBytes(16 << 20)
	for b.Loop() {
		if err := e.LoadImage(ctx, app, node); err != nil {
			b.Fatal(err)
		}
	}
}
