package testimage

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Docker Engine; skipped under -short")
	}
	if err := exec.Command("docker", "version").Run(); err != nil {
		if os.Getenv("DOCKER_HOST") != "" {
			t.Fatalf("DOCKER_HOST is set but docker does not answer: %v", err)
		}
		t.Skip(`needs a Docker Engine; run scripts/testenv up and eval "$(scripts/testenv env)"`)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	const tag = "meshdock/testimage:build-test"
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "--force", tag).Run() })
	if err := Build(ctx, tag); err != nil {
		t.Fatal(err)
	}
	// The second build of the same source reuses the image.
	start := time.Now()
	if err := Build(ctx, tag); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("rebuilt an up-to-date image (%v)", took)
	}
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Config.User}} {{.Config.Entrypoint}}", tag).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "65534:65534 [/server]\n"; got != want {
		t.Errorf("image config %q, want %q", got, want)
	}
}
