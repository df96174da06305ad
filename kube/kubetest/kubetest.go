// Package kubetest gives tests outside kube the API server of the test
// environment (scripts/testenv up, then eval "$(scripts/testenv env)"), or
// skips them with a message that says how to start it. It is for tests
// only.
package kubetest

import (
	"os"
	"testing"

	"github.com/meshdock/meshdock/kube"
)

// Config is the test environment's context ($KUBECONFIG), or a skip under
// -short or when no KUBECONFIG is set.
func Config(tb testing.TB) kube.Config {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs a Kubernetes API server; skipped under -short")
	}
	if os.Getenv("KUBECONFIG") == "" {
		tb.Skip(`needs a Kubernetes API server and KUBECONFIG is not set; run scripts/testenv up and eval "$(scripts/testenv env)"`)
	}
	cfg, err := kube.LoadDefault("")
	if err != nil {
		tb.Fatalf("KUBECONFIG is set but unusable: %v", err)
	}
	return cfg
}

// Cluster is a Cluster of Config.
func Cluster(tb testing.TB) kube.Cluster {
	tb.Helper()
	c, err := kube.NewCluster(Config(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
