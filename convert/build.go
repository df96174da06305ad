package convert

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"

	"github.com/meshdock/meshdock"
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
		s.builds = append(s.builds, s.buildOf(name, svc.Build, c.Image))
		if svc.Image == "" {
			s.warn(name, "build", fmt.Sprintf("the image is built from source: build it as %s (docker compose build) and make it available to the cluster (Docker Desktop shares the engine's images; kind and k3d need it loaded)", c.Image))
		} else {
			s.warn(name, "build", fmt.Sprintf("the image %s is built from source: build it before deploying; it is used if present and pulled otherwise", c.Image))
		}
	}
	return nil
}

// buildOf describes how to build a service's image, or why meshdock cannot:
// it builds from the project's own files only.
func (s *state) buildOf(service string, b *types.BuildConfig, image string) meshdock.Build {
	out := meshdock.Build{Service: service, Image: image, Dockerfile: b.Dockerfile, Target: b.Target}
	for k, v := range b.Args {
		if v != nil {
			if out.Args == nil {
				out.Args = map[string]string{}
			}
			out.Args[k] = *v
		}
	}
	switch ctx, inside := s.p.Rel(b.Context); {
	case strings.Contains(b.Context, "://") || strings.HasPrefix(b.Context, "git@"):
		out.Why = "its build context is remote"
	case !inside:
		out.Why = "its build context is outside the project"
	case b.DockerfileInline != "":
		out.Context, out.Why = ctx, "its Dockerfile is inline (dockerfile_inline)"
	case len(b.AdditionalContexts) > 0:
		out.Context, out.Why = ctx, "it names additional build contexts"
	default:
		out.Context = ctx
		if out.Dockerfile != "" && (path.IsAbs(out.Dockerfile) || strings.HasPrefix(path.Clean(out.Dockerfile), "../")) {
			out.Why = "its Dockerfile is outside the build context"
		}
	}
	return out
}

// sortBuilds orders builds by service, as the graph orders its nodes.
func sortBuilds(bs []meshdock.Build) {
	sort.Slice(bs, func(i, j int) bool { return bs[i].Service < bs[j].Service })
}
