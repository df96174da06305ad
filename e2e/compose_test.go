package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/meshdock/meshdock/e2e/testimage"
)

// project is the compose project name of this test; a fixed name lets a run
// clean up what an interrupted one left behind.
const project = "meshdock-e2e"

// composeFile is a two-service app built from the test image: web depends on
// a healthy api and publishes its port on loopback only.
var composeFile = fmt.Sprintf(`services:
  api:
    image: %[1]s
    pull_policy: never
    environment: {NAME: api, PORT: "9090"}
    healthcheck:
      test: ["CMD", "/server", "healthcheck"]
      interval: 1s
      timeout: 2s
      retries: 20
  web:
    image: %[1]s
    pull_policy: never
    environment: {NAME: web, DELAY: 5ms}
    ports: ["127.0.0.1::8080"]
    depends_on:
      api: {condition: service_healthy}
`, testimage.Tag)

// requireDocker skips unless a Docker Engine with the compose plugin answers.
// An engine named by DOCKER_HOST that does not answer is a failure: the
// environment says it is there.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Docker Engine; skipped under -short")
	}
	_, statErr := os.Stat("/var/run/docker.sock")
	if os.Getenv("DOCKER_HOST") == "" && statErr != nil {
		t.Skip(`needs a Docker Engine and DOCKER_HOST is not set; run scripts/testenv up and eval "$(scripts/testenv env)"`)
	}
	if out, err := exec.Command("docker", "version").CombinedOutput(); err != nil {
		t.Fatalf("docker does not answer: %v\n%s", err, out)
	}
	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err != nil {
		t.Skipf("needs the docker compose plugin (scripts/testenv up installs it): %v\n%s", err, out)
	}
}

// runProject starts a compose project of these files, built from the
// test image, in a folder of its own, and takes it down at the end (and
// first, what an interrupted run may have left). It returns the folder.
func runProject(ctx context.Context, t *testing.T, name string, files map[string]string) string {
	t.Helper()
	if err := testimage.Build(ctx, testimage.Tag); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for n, content := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	compose := func(ctx context.Context, args ...string) error {
		cmd := exec.CommandContext(ctx, "docker", append([]string{"compose", "-p", name}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("docker compose %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	down := func() {
		if err := compose(context.Background(), "down", "--volumes", "--remove-orphans", "--timeout", "5"); err != nil {
			t.Error(err)
		}
	}
	down()
	t.Cleanup(down)
	if err := compose(ctx, "up", "--detach", "--wait", "--wait-timeout", "60"); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestComposeProjectLabels(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir := runProject(ctx, t, project, map[string]string{"compose.yaml": composeFile})
	file := filepath.Join(dir, "compose.yaml")

	docker, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	containers, err := docker.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project)),
	})
	if err != nil {
		t.Fatal(err)
	}

	var services []string
	webPort := uint16(0)
	for _, c := range containers {
		l := c.Labels
		services = append(services, l["com.docker.compose.service"])
		// The engine adapter rebuilds a compose model from these labels.
		if got := l["com.docker.compose.project.config_files"]; got != file {
			t.Errorf("%s: config_files label %q, want %q", c.Names, got, file)
		}
		if got := l["com.docker.compose.project.working_dir"]; got != dir {
			t.Errorf("%s: working_dir label %q, want %q", c.Names, got, dir)
		}
		if c.State != "running" {
			t.Errorf("%s is %s", c.Names, c.State)
		}
		for _, p := range c.Ports {
			if p.PrivatePort == testimage.Port && p.PublicPort != 0 {
				webPort = p.PublicPort
			}
		}
	}
	sort.Strings(services)
	if strings.Join(services, ",") != "api,web" {
		t.Fatalf("services %v, want api and web", services)
	}

	// The published port reaches the real server in the container.
	if webPort == 0 {
		t.Fatal("web publishes no port")
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", webPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatal(err)
	}
	if answer["name"] != "web" || answer["delayed"] != "5ms" {
		t.Errorf("web answered %v", answer)
	}
}
