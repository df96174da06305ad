package meshes

import (
	"sort"
	"strings"

	"github.com/meshdock/meshdock"
)

// Release is one Helm release of a mesh's installation: a chart of the
// mesh's repository at a pinned version, and the values meshdock sets.
type Release struct {
	Name      string // the release, e.g. "linkerd-control-plane"
	Namespace string
	Chart     string // the chart's name in the repository and in Chart.yaml
	Version   string // the chart's pinned version
	Values    map[string]any
	// Keep are values (dotted paths) an upgrade carries over from the
	// deployed release instead of making them anew: Linkerd's identity.
	Keep []string
	// Generate makes values that must be new for each installation (a
	// trust root); an upgrade keeps the deployed ones (see Keep).
	Generate func() (map[string]any, error)
}

// Installation is how meshdock installs one mesh.
type Installation struct {
	Mesh string
	// Version is the mesh's, as its control plane reports it.
	Version string
	// Repo is the URL of the mesh's Helm repository.
	Repo     string
	Releases []Release
	// Shares names the other option that uses the same releases (Istio's
	// sidecar and ambient modes): uninstalling one removes both.
	Shares string
	Notes  []string
}

// Pinned versions: the newest release of each mesh whose charts support the
// Kubernetes versions of current local clusters (each chart's kubeVersion
// is checked by Helm against the cluster's at install).
const (
	IstioVersion   = "1.32.0"
	LinkerdVersion = "2026.8.3" // edge-26.8.3
	KumaVersion    = "2.14.3"
	ConsulVersion  = "2.0.3"
)

// InstallationOf returns the installation of a mesh option. none has no
// releases.
func InstallationOf(mesh string) (Installation, error) {
	if _, err := Get(mesh); err != nil {
		return Installation{}, err
	}
	switch mesh {
	case Istio, IstioAmbient:
		return istioInstallation(mesh), nil
	case Linkerd:
		return Installation{Mesh: Linkerd, Version: "edge-26.8.3", Repo: "https://helm.linkerd.io/edge",
			Releases: []Release{
				{Name: "linkerd-crds", Namespace: "linkerd", Chart: "linkerd-crds", Version: LinkerdVersion},
				{Name: "linkerd-control-plane", Namespace: "linkerd", Chart: "linkerd-control-plane", Version: LinkerdVersion,
					// Proxies as native sidecars, so depends_on waits (init
					// containers) reach the network through a running proxy.
					Values: map[string]any{"proxy": map[string]any{"nativeSidecar": true}},
					Keep:   linkerdIdentityKeys, Generate: linkerdIdentity},
			},
			Notes: []string{"Linkerd's trust anchor and issuer are made for this cluster at install, kept in the release's values, and carried over on upgrade; the issuer is valid for 5 years"},
		}, nil
	case Consul:
		return Installation{Mesh: Consul, Version: ConsulVersion, Repo: "https://helm.releases.hashicorp.com",
			Releases: []Release{{Name: "consul", Namespace: "consul", Chart: "consul", Version: ConsulVersion,
				Values: map[string]any{
					"global":        map[string]any{"name": "consul"},
					"server":        map[string]any{"replicas": 1},
					"connectInject": map[string]any{"enabled": true, "failurePolicy": "Ignore"},
				}}},
			Notes: []string{"Consul's injector is installed with failurePolicy Ignore: its webhook sees every pod of the cluster, and with Fail no pod anywhere could start while the injector is down; a pod started then runs without a proxy until it is restarted"},
		}, nil
	case Kuma:
		return Installation{Mesh: Kuma, Version: KumaVersion, Repo: "https://kumahq.github.io/charts",
			Releases: []Release{{Name: "kuma", Namespace: "kuma-system", Chart: "kuma", Version: KumaVersion,
				// Native sidecars (the chart's default, set here so it stays so).
				Values: map[string]any{"experimental": map[string]any{"sidecarContainers": true}}}},
			Notes: []string{"Kuma keeps its CRDs when it is uninstalled"},
		}, nil
	}
	return Installation{Mesh: None}, nil
}

func istioInstallation(mesh string) Installation {
	// The charts in the istio.io/istio module are not stamped with a
	// version (they name a test registry): hub and tag are always set.
	image := func(extra map[string]any) map[string]any {
		v := map[string]any{
			"hub": "docker.io/istio", "tag": IstioVersion,
			"global": map[string]any{"hub": "docker.io/istio", "tag": IstioVersion},
		}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	in := Installation{Mesh: mesh, Version: IstioVersion, Repo: "https://istio-release.storage.googleapis.com/charts",
		Releases: []Release{
			{Name: "istio-base", Namespace: "istio-system", Chart: "base", Version: IstioVersion},
		},
		Notes: []string{"Istio keeps its CRDs when it is uninstalled"},
	}
	if mesh == Istio {
		in.Shares = IstioAmbient
		in.Releases = append(in.Releases, Release{Name: "istiod", Namespace: "istio-system", Chart: "istiod", Version: IstioVersion,
			Values: image(nil)})
		return in
	}
	in.Shares = Istio
	ambient := map[string]any{"profile": "ambient"}
	in.Releases = append(in.Releases,
		Release{Name: "istiod", Namespace: "istio-system", Chart: "istiod", Version: IstioVersion,
			Values: image(ambient)},
		Release{Name: "istio-cni", Namespace: "istio-system", Chart: "cni", Version: IstioVersion, Values: image(ambient)},
		Release{Name: "ztunnel", Namespace: "istio-system", Chart: "ztunnel", Version: IstioVersion, Values: image(ambient)},
	)
	in.Notes = append(in.Notes, "ambient's istiod also injects sidecars: an app may use Istio sidecar and ambient in one cluster",
		"the Gateway API CRDs are not installed: layer 7 policies under ambient need a waypoint, which needs them")
	return in
}

// releasesOf lists the releases to remove when mesh is uninstalled: its own
// and those of the option it shares them with, last installed first.
func releasesOf(mesh string) ([]Release, error) {
	in, err := InstallationOf(mesh)
	if err != nil {
		return nil, err
	}
	rels := in.Releases
	if in.Shares != "" {
		other, _ := InstallationOf(in.Shares)
		seen := map[string]bool{}
		for _, r := range rels {
			seen[r.Name] = true
		}
		for _, r := range other.Releases {
			if !seen[r.Name] {
				rels = append(rels, r)
			}
		}
	}
	return rels, nil
}

// MergeValues returns a copy of base with over set on top, maps merged
// key by key, other values replaced.
func MergeValues(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if om, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = MergeValues(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// valueAt reads a dotted path of values.
func valueAt(values map[string]any, path string) (any, bool) {
	parts := strings.Split(path, ".")
	cur := values
	for i, p := range parts {
		v, ok := cur[p]
		if !ok {
			return nil, false
		}
		if i == len(parts)-1 {
			return v, true
		}
		if cur, ok = v.(map[string]any); !ok {
			return nil, false
		}
	}
	return nil, false
}

// setValueAt sets a dotted path of values, making the maps on the way.
func setValueAt(values map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	cur := values
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = v
}

// ValuesFor checks per-release values a user gives an install against the
// releases of mesh: each key must name one.
func ValuesFor(mesh string, values map[string]map[string]any) error {
	in, err := InstallationOf(mesh)
	if err != nil {
		return err
	}
	if len(in.Releases) == 0 && len(values) > 0 {
		return meshdock.Errorf(meshdock.EINVALID, "values: mesh %s installs no charts and takes no values", mesh)
	}
	names := map[string]bool{}
	var list []string
	for _, r := range in.Releases {
		names[r.Name] = true
		list = append(list, r.Name)
	}
	for k, v := range values {
		if !names[k] {
			sort.Strings(list)
			return meshdock.Errorf(meshdock.EINVALID, "values: %s is not a release of %s (its releases: %s)", meshdock.QuoteName(k), mesh, strings.Join(list, ", "))
		}
		for _, p := range protectedValues[mesh][k] {
			if _, ok := valueAt(v, p); ok {
				return meshdock.Errorf(meshdock.EINVALID, "values: %s.%s is set by meshdock (%s)", k, p, protectedWhy[p])
			}
		}
		if k == "linkerd-control-plane" {
			if err := checkLinkerdIdentity(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// protectedValues are the chart values meshdock relies on, by mesh and
// release: a user's values may not change them.
var protectedValues = map[string]map[string][]string{
	Linkerd:      {"linkerd-control-plane": {"proxy.nativeSidecar"}},
	Consul:       {"consul": {"global.name", "connectInject.enabled"}},
	Kuma:         {"kuma": {"experimental.sidecarContainers"}},
	IstioAmbient: {"istiod": {"profile"}, "istio-cni": {"profile"}, "ztunnel": {"profile"}},
	Istio:        {"istiod": {"profile"}},
}

var protectedWhy = map[string]string{
	"proxy.nativeSidecar":            "depends_on waits need native sidecars",
	"global.name":                    "meshdock finds Consul's control plane by it",
	"connectInject.enabled":          "apps are enrolled through Consul's injector",
	"experimental.sidecarContainers": "depends_on waits need native sidecars",
	"profile":                        "it is the mode of Istio this option installs",
}
