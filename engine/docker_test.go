package engine_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/docker/docker/client"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/engine"
)

func TestNoEngineIsAValue(t *testing.T) {
	e, err := engine.New("unix:///nonexistent/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = e.Info(ctx)
	if meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || !strings.Contains(meshdock.ErrorMessage(err), "/nonexistent/docker.sock does not exist") {
		t.Fatalf("Info without an engine: %v", err)
	}
	if _, err := e.Projects(ctx); meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE {
		t.Fatalf("Projects without an engine: %v", err)
	}
	if _, _, err := e.Rebuild(ctx, "x"); meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE {
		t.Fatalf("Rebuild without an engine: %v", err)
	}
}

func TestUnreachableEngine(t *testing.T) {
	// Port 1 on loopback: nothing listens there, the connection is refused.
	e, err := engine.New("tcp://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Info(context.Background())
	if meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || !strings.Contains(meshdock.ErrorMessage(err), "cannot be reached") {
		t.Fatalf("Info of an unreachable engine: %v", err)
	}
}

// realEngine is the test environment's Docker Engine, as meshdock's Engine
// and as a client for what the tests check and clean up.
func realEngine(t testing.TB) (engine.Engine, *client.Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Docker Engine; skipped under -short")
	}
	if _, err := os.Stat("/var/run/docker.sock"); os.Getenv("DOCKER_HOST") == "" && err != nil {
		t.Skip(`needs a Docker Engine: DOCKER_HOST is not set and there is no /var/run/docker.sock; run scripts/testenv up and eval "$(scripts/testenv env)"`)
	}
	e, err := engine.New("")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return e, c
}

// TestRealEngine talks to the test environment's Docker Engine.
func TestRealEngine(t *testing.T) {
	e, _ := realEngine(t)
	ctx := context.Background()
	info, err := e.Info(ctx)
	if err != nil || info.Version == "" || info.APIVersion == "" {
		t.Fatalf("Info: %+v, %v", info, err)
	}
	if _, err := e.Projects(ctx); err != nil {
		t.Fatalf("Projects: %v", err)
	}
	if _, err := e.Containers(ctx, "meshdock-no-such-project"); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Fatalf("Containers of an unknown project: %v", err)
	}
	if _, _, err := e.Rebuild(ctx, "meshdock-no-such-project"); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Fatalf("Rebuild of an unknown project: %v", err)
	}
}
