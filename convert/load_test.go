package convert

import (
	"context"

	"github.com/meshdock/meshdock/compose"
)

// convertSource loads a source and converts it, as the CLI and the server
// do.
func convertSource(ctx context.Context, src compose.Source, opt Options) (*Result, error) {
	p, err := compose.Load(ctx, src)
	if err != nil {
		return nil, err
	}
	return Convert(ctx, p, opt)
}
