package meshes

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
	// The deadline covers fetching the charts too.
	if req.Timeout <= 0 {
		req.Timeout = DefaultInstallTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	charts, err := req.Source.Charts(dctx, in, req.Values)
	if err != nil {
		return nil, err
	}
	if dl, ok := dctx.Deadline(); ok {
		req.Timeout = time.Until(dl)
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
// namespaces, which Helm does not delete. A mesh none of whose releases
// exist is not found. Consul's release, when it brought the Gateway API
// CRDs, takes every Gateway API object of the cluster with them: unless
// forced, it is refused while there are objects that are not Consul's.
func Uninstall(ctx context.Context, restConfig *rest.Config, mesh string, force bool, progress func(string)) ([]string, error) {
	rels, err := releasesOf(mesh)
	if err != nil {
		return nil, err
	}
	var charts []Chart
	namespaces := map[string]bool{}
	found := 0
	for _, r := range rels {
		charts = append(charts, Chart{Release: r.Name, Namespace: r.Namespace})
		namespaces[r.Namespace] = true
		ok, err := hasRelease(restConfig, r.Namespace, r.Name)
		if err != nil {
			return nil, err
		}
		if ok {
			found++
		}
	}
	if found == 0 {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "%s is not installed in this cluster (none of its releases is there): nothing to uninstall", mesh)
	}
	if mesh == Consul {
		if err := consulGatewayObjects(ctx, restConfig, force, progress); err != nil {
			return nil, err
		}
	}
	left, err := UninstallCharts(ctx, restConfig, charts, progress)
	if err != nil {
		return left, err
	}
	dyn, err := dynamic.NewForConfig(restConfig)
	if err != nil {
		return left, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cluster client: %v", err)
	}
	for _, ns := range slices.Sorted(maps.Keys(namespaces)) {
		if _, err := dyn.Resource(namespacesGVR).Get(ctx, ns, metav1.GetOptions{}); err == nil {
			left = append(left, "Namespace "+ns)
		}
	}
	return left, nil
}

// gatewayKinds are the Gateway API kinds whose objects go with the CRDs.
var gatewayKinds = []string{"gatewayclasses", "gateways", "httproutes", "grpcroutes", "tcproutes", "tlsroutes", "udproutes", "referencegrants"}

// meshReleases are the names of every mesh's releases.
func meshReleases() map[string]bool {
	out := map[string]bool{}
	for _, m := range Names() {
		in, _ := InstallationOf(m)
		for _, r := range in.Releases {
			out[r.Name] = true
		}
	}
	return out
}

// consulGatewayObjects refuses, unless forced, to uninstall a Consul whose
// release holds the Gateway API CRDs while other objects of those kinds
// exist: deleting the CRDs deletes them all.
func consulGatewayObjects(ctx context.Context, restConfig *rest.Config, force bool, progress func(string)) error {
	dyn, err := dynamic.NewForConfig(restConfig)
	if err != nil {
		return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cluster client: %v", err)
	}
	crd, err := dyn.Resource(crdsGVR).Get(ctx, "gateways.gateway.networking.k8s.io", metav1.GetOptions{})
	if apierrors.IsNotFound(err) || err == nil && crd.GetAnnotations()["meta.helm.sh/release-name"] != "consul" {
		return nil
	}
	if err != nil {
		return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "read the Gateway API CRDs: %v", err)
	}
	var others []string
	for _, kind := range gatewayKinds {
		for _, v := range []string{"v1", "v1beta1", "v1alpha2"} {
			list, err := dyn.Resource(schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: v, Resource: kind}).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, o := range list.Items {
				// Objects of the meshes' own releases (Kuma's GatewayClass)
				// go with them; the user's are what is at stake.
				if !meshReleases()[o.GetAnnotations()["meta.helm.sh/release-name"]] {
					others = append(others, kind+" "+strings.TrimPrefix(o.GetNamespace()+"/"+o.GetName(), "/"))
				}
			}
			break
		}
	}
	if len(others) == 0 {
		return nil
	}
	msg := fmt.Sprintf("Consul's release holds the cluster's Gateway API CRDs: uninstalling it deletes them with %d Gateway API objects that are not a mesh's (%s)", len(others), strings.Join(others, ", "))
	if !force {
		return meshdock.Errorf(meshdock.ECONFLICT, "%s; uninstall with force to go ahead", msg)
	}
	progress(msg)
	return nil
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
