package testimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Tag is the image tag tests use unless they need another.
const Tag = "meshdock/testimage:dev"

// sourceLabel carries a hash of the server's source, so an image built from
// an older source is rebuilt rather than reused.
const sourceLabel = "dev.meshdock.testimage.source"

// Port is the port the server listens on unless $PORT says otherwise.
const Port = 8080

const dockerfile = `FROM scratch
COPY server /server
EXPOSE 8080
# Any user but root and the meshes' proxy user (1337).
USER 65534:65534
ENTRYPOINT ["/server"]
`

// Build makes the image tag from the server's source: a static binary
// (CGO_ENABLED=0) copied into a FROM scratch image by the classic builder
// (DOCKER_BUILDKIT=0: the test machines have no BuildKit). An image of that
// tag built from the same source is reused. Docker is reached through the
// docker CLI and the usual DOCKER_HOST.
func Build(ctx context.Context, tag string) error {
	src, err := sourceDir()
	if err != nil {
		return err
	}
	sum, err := sourceHash(src)
	if err != nil {
		return err
	}
	if label, err := output(ctx, "", nil, "docker", "image", "inspect", "--format",
		`{{index .Config.Labels "`+sourceLabel+`"}}`, tag); err == nil && strings.TrimSpace(label) == sum {
		return nil
	}

	dir, err := os.MkdirTemp("", "meshdock-testimage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := []string{"CGO_ENABLED=0", "GOOS=linux"}
	if _, err := output(ctx, src, env, "go", "build", "-trimpath", "-ldflags=-s -w",
		"-o", filepath.Join(dir, "server"), "."); err != nil {
		return fmt.Errorf("testimage: building the server: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	if _, err := output(ctx, dir, []string{"DOCKER_BUILDKIT=0"}, "docker", "build", "--quiet",
		"--label", sourceLabel+"="+sum, "--tag", tag, "."); err != nil {
		return fmt.Errorf("testimage: building image %s: %w", tag, err)
	}
	return nil
}

// sourceDir finds ./server beside this file: tests of any package call
// Build, from their own working directories.
func sourceDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("testimage: cannot locate the server's source")
	}
	return filepath.Join(filepath.Dir(file), "server"), nil
}

func sourceHash(dir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(dockerfile))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// output runs a command and returns its standard output; a failure carries
// the command's standard error.
func output(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
