package kube

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// testCluster connects to the API server of $KUBECONFIG (the test
// environment: scripts/testenv up), or skips.
func testCluster(tb testing.TB) Cluster {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs a Kubernetes API server; skipped under -short")
	}
	if os.Getenv("KUBECONFIG") == "" {
		tb.Skip(`needs a Kubernetes API server and KUBECONFIG is not set; run scripts/testenv up and eval "$(scripts/testenv env)"`)
	}
	cfg, err := LoadDefault("")
	if err != nil {
		tb.Fatalf("KUBECONFIG is set but unusable: %v", err)
	}
	c, err := NewCluster(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// testNamespace creates a namespace of its own for one test and deletes it
// (with everything in it) when the test ends.
func testNamespace(tb testing.TB, c Cluster) string {
	tb.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "kube-test-" + hex.EncodeToString(b)
	ns := objects(tb, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+name+"}\n")
	if _, err := c.Apply(context.Background(), ns, ApplyOptions{}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		dyn, _ := c.Dynamic()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			tb.Errorf("deleting namespace %s: %v", name, err)
		}
	})
	return name
}

// objects decodes a multi-document YAML stream.
func objects(tb testing.TB, docs string) []*unstructured.Unstructured {
	tb.Helper()
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(docs)), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			tb.Fatal(err)
		}
		if m != nil {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}
