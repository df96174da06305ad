package kubetest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock/kube"
)

var clusterLogs = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "clusterlogs"}

// ServeLogs has the test environment's simulated nodes answer data as the
// log of every container named container in namespace ns, through the API
// server's pod log endpoint (kwok's ClusterLogs, with data written as a
// CRI log file), until the test ends.
func ServeLogs(tb testing.TB, c kube.Cluster, ns, container string, data []byte) {
	tb.Helper()
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		b.WriteString("2026-01-02T15:04:05.000000000Z stdout F " + line)
	}
	file := filepath.Join(tb.TempDir(), ns+"-"+container+".log")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	dyn, err := c.Dynamic()
	if err != nil {
		tb.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterLogs",
		"metadata": map[string]any{"name": ns + "-" + container},
		"spec": map[string]any{"selector": map[string]any{"matchNamespaces": []any{ns}},
			"logs": []any{map[string]any{"containers": []any{container}, "logsFile": file}}}}}
	if _, err := dyn.Resource(clusterLogs).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("the test environment serves no pod logs (kwok's ClusterLogs; scripts/testenv up installs them): %v", err)
	}
	tb.Cleanup(func() {
		_ = dyn.Resource(clusterLogs).Delete(context.Background(), obj.GetName(), metav1.DeleteOptions{})
	})
	time.Sleep(200 * time.Millisecond) // kwok takes it up within milliseconds
}
