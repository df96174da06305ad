package convert

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/meshdock/meshdock/compose"
)

func BenchmarkConvert(b *testing.B) {
	b.Run("example", func(b *testing.B) {
		src := compose.Source{Dir: "../examples/shop"}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := convertSource(context.Background(), src, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A typical app: every valid test case in turn; ns/op is per app.
	b.Run("testdata", func(b *testing.B) {
		dirs := cases(b, "valid-")
		srcs := make([]compose.Source, len(dirs))
		for i, d := range dirs {
			srcs[i] = diskSource(d, readOptions(b, d))
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := convertSource(context.Background(), srcs[i%len(srcs)], Options{}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("100-services", func(b *testing.B) {
		src := compose.Source{Name: "big", Files: []compose.File{{Name: "compose.yaml", Content: manyServices(100)}}}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := convertSource(context.Background(), src, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// manyServices generates a compose file of n services that use most of
// what the passes handle: ports, healthchecks, depends_on, volumes, env.
func manyServices(n int) []byte {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  svc%d:\n    image: example/svc:%d\n    ports: [\"%d:8080\"]\n", i, i, 10000+i)
		fmt.Fprintf(&b, "    environment:\n      NEXT: http://svc%d:8080\n      LEVEL: info\n", (i+1)%n)
		b.WriteString("    healthcheck:\n      test: [\"CMD-SHELL\", \"wget -qO- http://localhost:8080/healthz\"]\n      interval: 5s\n")
		if i > 0 {
			fmt.Fprintf(&b, "    depends_on:\n      svc%d: {condition: service_started}\n", i-1)
		}
		fmt.Fprintf(&b, "    volumes: [\"data%d:/data\"]\n", i)
	}
	b.WriteString("volumes:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  data%d: {}\n", i)
	}
	return []byte(b.String())
}
