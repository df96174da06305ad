package convert

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// buildPass deals with services that docker compose builds. kompose names a
// build-only service's image after the service alone, which no cluster can
// pull, and says nothing. Here the image is the one docker compose builds
// (`<project>-<service>`), pulled only if not present, and a warning says
// the image must be built and made available to the cluster.
func buildPass(s *state) error {
	for _, name := range s.p.ServiceNames() {
		svc := s.service(name)
		if svc.Build == nil {
			continue
		}
		c := s.pods[name].container()
		if c == nil {
			continue
		}
		c.Image = s.imageOf(name)
		c.ImagePullPolicy = corev1.PullIfNotPresent
		if svc.Image == "" {
			s.warn(name, "build", fmt.Sprintf("the image is built from source: build it as %s (docker compose build) and make it available to the cluster (Docker Desktop shares the engine's images; kind and k3d need it loaded)", c.Image))
		} else {
			s.warn(name, "build", fmt.Sprintf("the image %s is built from source: build it before deploying; it is used if present and pulled otherwise", c.Image))
		}
	}
	return nil
}
