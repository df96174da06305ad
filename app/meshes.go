package app

import (
	"context"

	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/meshes"
)

// Meshes tells, for each mesh option, whether the cluster of a context
// has it installed, its version and the health of its control plane.
func (s *Service) Meshes(ctx context.Context, kubeContext string) ([]kube.MeshStatus, error) {
	cluster, err := s.clusters.Cluster(kubeContext)
	if err != nil {
		return nil, err
	}
	return MeshesOf(ctx, cluster)
}

// MeshesOf tells what Meshes tells, of a cluster.
func MeshesOf(ctx context.Context, cluster kube.Cluster) ([]kube.MeshStatus, error) {
	var out []kube.MeshStatus
	for _, name := range meshes.Names() {
		st, err := cluster.Mesh(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}
