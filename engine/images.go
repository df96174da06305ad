package engine

import (
	"context"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/meshdock/meshdock"
)

// ImageExists implements Engine.
func (d *Docker) ImageExists(ctx context.Context, ref string) (bool, error) {
	if ref == "" {
		return false, meshdock.Errorf(meshdock.EINVALID, "no image reference")
	}
	_, err := d.c.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	case cerrdefs.IsInvalidArgument(err):
		return false, meshdock.Wrap(meshdock.EINVALID, err, "%q is not an image reference", ref)
	}
	return false, d.failed(err, "inspect image %s", ref)
}
