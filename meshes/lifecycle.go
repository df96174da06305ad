package meshes

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/meshdock/meshdock"
)

// InstallRequest is one install or upgrade of a mesh.
type InstallRequest struct {
	Mesh   string
	Source Source
	// Values are the user's, by release name, over meshdock's.
	Values map[string]map[string]any
	InstallOptions
}

// Installed is what Install put into the cluster.
type Installed struct {
	Mesh      string
	Version   string
	Releases  []string
	Workloads []Workload
	Notes     []string
}

// Install installs a mesh, or upgrades it to meshdock's pinned version, and
// waits for its control plane (see InstallCharts).
func Install(ctx context.Context, restConfig *rest.Config, req InstallRequest) (*Installed, error) {
	if err := ValuesFor(req.Mesh, req.Values); err != nil {
		return nil, err
	}
	in, err := InstallationOf(req.Mesh)
	if err != nil {
		return nil, err
	}
	if len(in.Releases) == 0 {
		return &Installed{Mesh: req.Mesh, Notes: []string{"mesh none installs nothing: it is the baseline without a mesh"}}, nil
	}
	progress := req.Progress
	if progress == nil {
		progress = func(string) {}
	}
	req.Progress = progress
	notes := append([]string(nil), in.Notes...)
	switch req.Mesh {
	case Istio:
		// Ambient's istiod serves sidecars too: installing the sidecar mode
		// over it would take ambient away.
		if has, err := hasRelease(restConfig, "istio-system", "ztunnel"); err != nil {
			return nil, err
		} else if has {
			ambient, _ := InstallationOf(IstioAmbient)
			in.Releases = ambient.Releases
			notes = append(notes, "Istio ambient is installed, and its istiod injects sidecars: it is kept as it is")
		}
	case Consul:
		// Gateway API CRDs of another owner: Consul must not bring its own
		// older ones.
		if foreign, err := foreignGatewayAPI(ctx, restConfig); err != nil {
			return nil, err
		} else if foreign {
			for i := range in.Releases {
				in.Releases[i].Values = MergeValues(in.Releases[i].Values, map[string]any{
					"connectInject": map[string]any{"apiGateway": map[string]any{"manageExternalCRDs": false}}})
			}
			notes = append(notes, "the cluster has Gateway API CRDs of its own: Consul is installed without its older copies (manageExternalCRDs false)")
		}
	}
	charts, err := req.Source.Charts(ctx, in, req.Values)
	if err != nil {
		return nil, err
	}
	res, err := InstallCharts(ctx, restConfig, charts, req.InstallOptions)
	if err != nil {
		return nil, err
	}
	out := &Installed{Mesh: req.Mesh, Version: in.Version, Workloads: res.Workloads, Notes: notes}
	for _, c := range charts {
		out.Releases = append(out.Releases, c.Release)
	}
	return out, nil
}

// Uninstall removes a mesh's releases (for Istio, those of both modes),
// and returns what is left behind: CRDs the charts keep, and the mesh's
// namespaces, which Helm does not delete.
func Uninstall(ctx context.Context, restConfig *rest.Config, mesh string, progress func(string)) ([]string, error) {
	rels, err := releasesOf(mesh)
	if err != nil {
		return nil, err
	}
	var charts []Chart
	namespaces := map[string]bool{}
	for _, r := range rels {
		charts = append(charts, Chart{Release: r.Name, Namespace: r.Namespace})
		namespaces[r.Namespace] = true
	}
	left, err := UninstallCharts(ctx, restConfig, charts, progress)
	if err != nil {
		return left, err
	}
	for ns := range namespaces {
		left = append(left, "Namespace "+ns)
	}
	return left, nil
}

func hasRelease(restConfig *rest.Config, ns, name string) (bool, error) {
	cfg, err := helmConfig(restConfig, ns)
	if err != nil {
		return false, err
	}
	ok, err := releaseExists(cfg, name)
	if err != nil {
		return false, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "release %s in namespace %s cannot be read: %v", name, ns, err)
	}
	return ok, nil
}

// foreignGatewayAPI reports whether the cluster has Gateway API CRDs that
// Consul's release did not bring.
func foreignGatewayAPI(ctx context.Context, restConfig *rest.Config) (bool, error) {
	dyn, err := dynamic.NewForConfig(restConfig)
	if err != nil {
		return false, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cluster client: %v", err)
	}
	crd, err := dyn.Resource(crdsGVR).Get(ctx, "gateways.gateway.networking.k8s.io", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "read the Gateway API CRDs: %v", err)
	}
	return crd.GetAnnotations()["meta.helm.sh/release-name"] != "consul", nil
}

// String names an installed mesh and its releases.
func (i *Installed) String() string {
	return fmt.Sprintf("%s %s (%d releases)", i.Mesh, i.Version, len(i.Releases))
}
