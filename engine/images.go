package engine

import (
	"context"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/meshdock/meshdock"
)

// ImageExists implements Engine.
func (d *Docker) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, ok, err := d.ImageLabels(ctx, ref)
	return ok, err
}

// ImageLabels implements Engine.
func (d *Docker) ImageLabels(ctx context.Context, ref string) (map[string]string, bool, error) {
	if ref == "" {
		return nil, false, meshdock.Errorf(meshdock.EINVALID, "no image reference")
	}
	img, err := d.c.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		labels := map[string]string{}
		if img.Config != nil {
			labels = img.Config.Labels
		}
		return labels, true, nil
	case cerrdefs.IsNotFound(err):
		return nil, false, nil
	case cerrdefs.IsInvalidArgument(err):
		return nil, false, meshdock.Wrap(meshdock.EINVALID, err, "%q is not an image reference", ref)
	}
	return nil, false, d.failed(err, "inspect image %s", ref)
}
