package kube

import (
	"context"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdock/meshdock"
)

// MeshStatus is what a cluster shows of one mesh.
type MeshStatus struct {
	Name      string `json:"name"`
	Installed bool   `json:"installed"`
	// Version is the control plane's, from its image tag.
	Version string `json:"version,omitempty"`
	// Healthy is true when every control-plane workload is available.
	Healthy bool   `json:"healthy"`
	Message string `json:"message,omitempty"`
}

// controlPlanes are where each mesh's control plane runs by default: the
// namespace and the workload whose image tag is the mesh's version.
var controlPlanes = map[string]struct {
	namespace, kind, name string
}{
	"istio":         {"istio-system", "deployments", "istiod"},
	"istio-ambient": {"istio-system", "daemonsets", "ztunnel"},
	"linkerd":       {"linkerd", "deployments", "linkerd-destination"},
	"consul":        {"consul", "statefulsets", "consul-server"},
	"kuma":          {"kuma-system", "deployments", "kuma-control-plane"},
}

// Mesh tells whether a mesh is installed (its kinds are served), its
// version and whether its control plane is available.
func (c Cluster) Mesh(ctx context.Context, mesh string) (MeshStatus, error) {
	st := MeshStatus{Name: mesh}
	if mesh == "none" {
		st.Installed, st.Healthy = true, true
		return st, nil
	}
	if c.conn == nil {
		return st, ErrNoCluster
	}
	if err := c.HasMesh(ctx, mesh); err != nil {
		if meshdock.ErrorCode(err) == meshdock.ENOTFOUND {
			st.Message = meshdock.ErrorMessage(err)
			return st, nil
		}
		return st, err
	}
	obj, err := c.controlPlane(ctx, mesh)
	switch {
	case apierrors.IsNotFound(err):
		st.Message = "its control plane went away while it was read"
		return st, nil
	case err != nil:
		return st, err
	}
	st.Installed = true
	containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
	if len(containers) > 0 {
		if img, _ := containers[0].(map[string]any)["image"].(string); img != "" {
			if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
				st.Version = img[i+1:]
			}
		}
	}
	s, _ := statusOf(obj)
	st.Healthy, st.Message = s.Done, s.Message
	return st, nil
}
