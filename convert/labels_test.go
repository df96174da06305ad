package convert

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/meshdock/meshdock/compose"
)

// randomKey makes a label key of the kinds real compose files hold, valid
// or not: dotted reverse-DNS names, prefixes, long name parts (traefik's
// middleware keys), upper case, spaces and other characters.
func randomKey(r *rand.Rand) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_. /:@"
	word := func(n int, set string) string {
		var b strings.Builder
		for range n {
			b.WriteByte(set[r.IntN(len(set))])
		}
		return b.String()
	}
	switch r.IntN(6) {
	case 0: // reserved keys
		return []string{LabelName, LabelPartOf, LabelManagedBy, LabelService, "io.kompose.service", "meshdock.io/other"}[r.IntN(6)]
	case 1: // traefik-style dotted keys, often over 63 characters
		parts := []string{"traefik", "http", "middlewares", word(1+r.IntN(30), "abcdefghij-"), "forwardauth", "authResponseHeaders"}
		return strings.Join(parts[:2+r.IntN(5)], ".")
	case 2: // prefixed keys, the prefix sometimes too long or not DNS
		return word(1+r.IntN(260), "abc.-XY_") + "/" + word(1+r.IntN(70), "abcDEF-_.9")
	case 3:
		return word(1+r.IntN(80), chars)
	case 4:
		return "com.example." + word(1+r.IntN(70), "abcdefghijklmnopqrstuvwxyz-_.")
	}
	return word(1+r.IntN(10), "abc") + "/" + word(1+r.IntN(10), "abc") + "/" + word(1+r.IntN(10), "abc")
}

func randomValue(r *rand.Rand) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABC0123456789-_. /:=,"
	n := []int{0, 1, 10, 63, 64, 200}[r.IntN(6)]
	var b strings.Builder
	for range n {
		b.WriteByte(chars[r.IntN(len(chars))])
	}
	return b.String()
}

// TestGeneratedLabelKeys converts services whose labels and annotations
// are generated keys and values, and checks every label and annotation of
// the output with apimachinery's own validation, and that selectors still
// select the pods.
func TestGeneratedLabelKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	converted := 0
	defer func() {
		if converted < 15 {
			t.Errorf("only %d of 20 generated projects converted", converted)
		}
	}()
	for round := range 20 {
		var b strings.Builder
		b.WriteString("services:\n")
		for svc := range 3 {
			fmt.Fprintf(&b, "  s%d:\n    image: example/s:1\n    ports: ['80']\n    labels:\n", svc)
			writeEntries(&b, r, 12)
			b.WriteString("    annotations:\n")
			writeEntries(&b, r, 4)
		}
		b.WriteString("jobs:\n  j:\n    image: example/j:1\n    triggers: {manual: true}\n    labels:\n")
		writeEntries(&b, r, 8)
		res, err := convertSource(context.Background(), compose.Source{Files: []compose.File{{Name: "compose.yaml", Content: []byte(b.String())}}}, Options{})
		if err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, b.String())
		}
		converted++
		for _, o := range res.Objects {
			checkObjectMetadata(t, o)
		}
	}
}

// writeEntries writes n generated keys with values, each key once.
func writeEntries(b *strings.Builder, r *rand.Rand, n int) {
	seen := map[string]bool{}
	for len(seen) < n {
		k := randomKey(r)
		if !seen[k] {
			seen[k] = true
			fmt.Fprintf(b, "      %s: %s\n", strconv.Quote(k), strconv.Quote(randomValue(r)))
		}
	}
}

// checkObjectMetadata validates the labels and annotations of an object
// and of its templates, and that a workload's selector selects its pods.
func checkObjectMetadata(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	what := o.GetKind() + "/" + o.GetName()
	metas := map[string][]string{"": {"metadata"}, "template": {"spec", "template", "metadata"},
		"jobTemplate": {"spec", "jobTemplate", "metadata"}, "jobPod": {"spec", "jobTemplate", "spec", "template", "metadata"}}
	for name, path := range metas {
		m, ok, _ := unstructured.NestedMap(o.Object, path...)
		if !ok {
			continue
		}
		labels, _, _ := unstructured.NestedStringMap(m, "labels")
		annotations, _, _ := unstructured.NestedStringMap(m, "annotations")
		fld := field.NewPath(strings.Join(path, "."))
		for _, e := range metav1validation.ValidateLabels(labels, fld.Child("labels")) {
			t.Errorf("%s %s: %v", what, name, e)
		}
		for _, e := range apivalidation.ValidateAnnotations(annotations, fld.Child("annotations")) {
			t.Errorf("%s %s: %v", what, name, e)
		}
	}
	sel, ok, _ := unstructured.NestedStringMap(o.Object, "spec", "selector", "matchLabels")
	if !ok {
		return
	}
	pods, _, _ := unstructured.NestedStringMap(o.Object, "spec", "template", "metadata", "labels")
	for k, v := range sel {
		if pods[k] != v {
			t.Errorf("%s: selector %s=%s does not match the pod template's %q", what, k, v, pods[k])
		}
	}
	if pods[LabelManagedBy] != "meshdock" {
		t.Errorf("%s: %s is %q", what, LabelManagedBy, pods[LabelManagedBy])
	}
}
