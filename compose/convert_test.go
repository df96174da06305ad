package compose_test

import (
	"context"
	"fmt"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
)

// convertSource loads a source and converts it, as the CLI and the server
// do: what reaches the manifests is what loading let through.
func convertSource(ctx context.Context, src compose.Source, opt convert.Options) (*convert.Result, error) {
	p, err := compose.Load(ctx, src)
	if err != nil {
		return nil, err
	}
	return convert.Convert(ctx, p, opt)
}

func convertNoPanic(src compose.Source, opt convert.Options) (res *convert.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return convertSource(context.Background(), src, opt)
}

func formatWarnings(ws []meshdock.Warning) (out string) {
	for _, w := range ws {
		out += fmt.Sprintf("%s:%d: [%s] %s: %s\n", w.File, w.Line, w.Service, w.Key, w.Message)
	}
	return out
}
