package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
	"github.com/meshdock/meshdock/kube"
)

// BenchmarkApply applies the example app again and again (the steady state
// of a redeploy: every object unchanged) with kube.Apply, and reports the
// same with `kubectl apply --server-side` (the built kubectl v1.37) as a
// ratio. Each tool has its own namespace, so neither owns the other's
// fields.
func BenchmarkApply(b *testing.B) {
	c := requireCluster(b)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		b.Skip("needs kubectl on PATH (eval \"$(scripts/testenv env)\")")
	}
	res, err := convertSource(context.Background(), compose.Source{Dir: "../examples/shop"}, convert.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var manifests bytes.Buffer
	if err := convert.WriteYAML(&manifests, res.Objects); err != nil {
		b.Fatal(err)
	}
	ours, theirs := uniqueName("bench-meshdock"), uniqueName("bench-kubectl")
	ensureNamespace(b, c, ours)
	ensureNamespace(b, c, theirs)
	ctx := context.Background()

	kubectlApply := func() {
		cmd := exec.Command(kubectl, "apply", "--server-side", "-n", theirs, "-f", "-")
		cmd.Stdin = bytes.NewReader(manifests.Bytes())
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("kubectl apply: %v\n%s", err, out)
		}
	}
	// The first applies create everything; what is measured is re-applying.
	if _, err := c.Apply(ctx, res.Objects, kube.ApplyOptions{Namespace: ours}); err != nil {
		b.Fatal(err)
	}
	kubectlApply()

	start := time.Now()
	n := 0
	for b.Loop() {
		if _, err := c.Apply(ctx, res.Objects, kube.ApplyOptions{Namespace: ours}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	perOurs := time.Since(start) / time.Duration(n)

	const rounds = 5
	start = time.Now()
	for range rounds {
		kubectlApply()
	}
	perKubectl := time.Since(start) / rounds
	b.ReportMetric(float64(perKubectl.Microseconds())/1000, "kubectl-ms/op")
	b.ReportMetric(float64(perOurs)/float64(perKubectl), "ratio")
}
