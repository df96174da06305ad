package convert

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdock/meshdock"
)

// Limits on what one conversion may make. Real apps stay far below them.
const (
	// MaxObjects bounds the Kubernetes objects of one conversion.
	MaxObjects = 5000
	// MaxOutputSize bounds the manifests of one conversion, as JSON.
	MaxOutputSize = 16 << 20
	// MaxWarnings bounds the warnings of one conversion; one more says
	// how many were left out.
	MaxWarnings = 1000
)

// checkOutput bounds the objects of a conversion and their size.
func checkOutput(n int, bytes int) error {
	if n > MaxObjects {
		return meshdock.Errorf(meshdock.ETOOLARGE, "the project makes %d Kubernetes objects: at most %d are accepted", n, MaxObjects)
	}
	if bytes > MaxOutputSize {
		return meshdock.Errorf(meshdock.ETOOLARGE, "the manifests are over %s: at most %s are accepted", meshdock.FormatSize(MaxOutputSize), meshdock.FormatSize(MaxOutputSize))
	}
	return nil
}

// outputSize estimates the objects' size as JSON from their strings and
// values, without encoding them.
func outputSize(objs []*unstructured.Unstructured) int {
	n := 0
	for _, o := range objs {
		n += valueSize(o.Object)
	}
	return n
}

func valueSize(v any) int {
	switch t := v.(type) {
	case map[string]any:
		n := 2
		for k, e := range t {
			n += len(k) + 4 + valueSize(e)
		}
		return n
	case []any:
		n := 2
		for _, e := range t {
			n += 1 + valueSize(e)
		}
		return n
	case string:
		return len(t) + 2
	}
	return 8
}
