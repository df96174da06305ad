package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock/kube"
)

// deploy, status and delete against the real control plane: plain event
// lines when not on a terminal, a summary, the exit codes of convert.
func TestDeployStatusDeleteCommands(t *testing.T) {
	if testing.Short() || os.Getenv("KUBECONFIG") == "" {
		t.Skip(`needs a Kubernetes API server (scripts/testenv up; eval "$(scripts/testenv env)"); skipped under -short`)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "cli-test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		cfg, _ := kube.LoadDefault("")
		c, _ := kube.NewCluster(cfg)
		dyn, _ := c.Dynamic()
		_ = dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	var stdout, stderr bytes.Buffer
	if code := run([]string{"deploy", "-f", "../../examples/shop/compose.yaml", "-n", ns, "--wait", "--timeout", "1m", "-q"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("deploy: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"==> applying", "Deployment " + ns + "/api created", "✓ Deployment api", "deployed into namespace " + ns,
		"kubectl port-forward -n " + ns + " service/web 8080:80"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("terminal codes in output to a pipe:\n%q", out)
	}
	stdout.Reset()
	if code := run([]string{"deploy", "-f", "../../examples/shop/compose.yaml", "-n", ns, "-q"}, &stdout, &stderr); code != exitOK ||
		!strings.Contains(stdout.String(), "unchanged") || strings.Contains(stdout.String(), " created") {
		t.Errorf("second deploy: exit %d\n%s", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"status", "-n", ns}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "✓ Deployment api") {
		t.Errorf("status: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"delete", "-n", ns}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "kept 1 PersistentVolumeClaims") {
		t.Errorf("delete: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"deploy", "-f", "../../examples/shop/compose.yaml", "-n", "Not_A_Namespace"}, &stdout, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "namespace") {
		t.Errorf("bad namespace: exit %d %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"deploy", "-f", "../../examples/shop/compose.yaml", "-n", ns, "--context", "no-such-context", "-q"}, &stdout, &stderr); code != exitError ||
		!strings.Contains(stderr.String(), "no-such-context") {
		t.Errorf("unknown context: exit %d %s", code, stderr.String())
	}
}
