package compose_test

import (
	"context"
	"testing"

	"github.com/meshdock/meshdock/compose"
)

// BenchmarkLoad is the loading half of a conversion (BenchmarkConvert in
// convert is both halves), for the bundled example app.
func BenchmarkLoad(b *testing.B) {
	src := compose.Source{Dir: "../examples/shop"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compose.Load(context.Background(), src); err != nil {
			b.Fatal(err)
		}
	}
}
