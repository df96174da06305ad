package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/meshes"
	"github.com/meshdock/meshdock/store"
)

// Events of mesh operations, besides step, workload and warning.
const (
	EventInstalled   = "installed"   // MeshInstalled: the mesh is installed and rolled out
	EventUninstalled = "uninstalled" // MeshUninstalled: the mesh is gone, less what it left
)

// MeshInstalled is the data of an installed event.
type MeshInstalled struct {
	Mesh     string   `json:"mesh"`
	Version  string   `json:"version"`
	Releases []string `json:"releases"`
	Notes    []string `json:"notes,omitempty"`
	Seconds  float64  `json:"seconds"`
}

// MeshUninstalled is the data of an uninstalled event.
type MeshUninstalled struct {
	Mesh string   `json:"mesh"`
	Left []string `json:"left"`
}

// MeshRequest is an install, upgrade or uninstall of a mesh.
type MeshRequest struct {
	// Context is the kubeconfig context; empty means the current one.
	Context string `json:"context,omitempty"`
	// Values are chart values by release name, over meshdock's.
	Values map[string]map[string]any `json:"values,omitempty"`
	// Timeout bounds the install and its rollout (10m); at most 1h.
	Timeout meshdock.Duration `json:"timeout,omitempty"`
	// Force uninstalls a mesh that apps meshdock deployed are enrolled in.
	Force bool `json:"force,omitempty"`
	// HelmWait waits with Helm's own Wait rather than meshdock's watch
	// (for comparing the two).
	HelmWait bool `json:"-"`
}

// Check validates a request before any work starts.
func (r MeshRequest) Check(mesh string) error {
	if mesh == "" {
		return meshdock.Errorf(meshdock.EINVALID, "mesh must be one of %s", strings.Join(meshes.Names(), ", "))
	}
	if _, err := meshes.Get(mesh); err != nil {
		return err
	}
	if r.Timeout < 0 || time.Duration(r.Timeout) > MaxRolloutTimeout {
		return meshdock.Errorf(meshdock.EINVALID, "timeout must be between 0 and %s, not %s", MaxRolloutTimeout, time.Duration(r.Timeout))
	}
	return meshes.ValuesFor(mesh, r.Values)
}

// CheckUninstall validates an uninstall before any work starts.
func (r MeshRequest) CheckUninstall(mesh string) error {
	if err := r.Check(mesh); err != nil {
		return err
	}
	if mesh == meshes.None {
		return meshdock.Errorf(meshdock.EINVALID, "mesh none has nothing to uninstall")
	}
	return nil
}

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

// StartMeshInstall installs or upgrades a mesh in the cluster of a
// context, as an operation.
func (s *Service) StartMeshInstall(ctx context.Context, mesh string, req MeshRequest) (*store.Operation, error) {
	return s.startMesh(ctx, "mesh-install", mesh, req, func(ctx context.Context, cluster kube.Cluster, emit Emit) error {
		_, err := s.InstallMesh(ctx, cluster, mesh, req, emit)
		return err
	})
}

// StartMeshUninstall uninstalls a mesh from the cluster of a context, as
// an operation.
func (s *Service) StartMeshUninstall(ctx context.Context, mesh string, req MeshRequest) (*store.Operation, error) {
	return s.startMesh(ctx, "mesh-uninstall", mesh, req, func(ctx context.Context, cluster kube.Cluster, emit Emit) error {
		_, err := s.UninstallMesh(ctx, cluster, mesh, req, emit)
		return err
	})
}

// startMesh runs one mesh operation per cluster at a time.
func (s *Service) startMesh(ctx context.Context, kind, mesh string, req MeshRequest, work func(context.Context, kube.Cluster, Emit) error) (*store.Operation, error) {
	check := req.Check
	if kind == "mesh-uninstall" {
		check = req.CheckUninstall
	}
	if err := check(mesh); err != nil {
		return nil, err
	}
	cluster, err := s.clusters.Cluster(req.Context)
	if err != nil {
		return nil, err
	}
	cfg, _ := cluster.Config()
	// One mesh operation per cluster, whatever context names it: the key
	// is the API server's address.
	key := "mesh\x00" + cfg.REST().Host
	if err := s.deploys.claimAs(key, "the cluster of context "+meshdock.QuoteName(cfg.Context)+" (a mesh install or uninstall)"); err != nil {
		return nil, err
	}
	op, err := s.StartOperation(ctx, kind, "", func(ctx context.Context, emit func(string, any) error) error {
		defer s.deploys.release(key)
		return work(ctx, cluster, emit)
	})
	if err != nil {
		s.deploys.release(key)
		return nil, err
	}
	s.deploys.started(key, op.ID)
	return op, nil
}

// InstallMesh installs or upgrades a mesh and waits for its control plane
// with watches of its workloads (workload events). A failed install leaves
// the cluster as it was.
func (s *Service) InstallMesh(ctx context.Context, cluster kube.Cluster, mesh string, req MeshRequest, emit Emit) (*meshes.Installed, error) {
	if err := req.Check(mesh); err != nil {
		return nil, err
	}
	cfg, err := cluster.Config()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	_ = emit(EventStep, Step{Step: "install", Message: fmt.Sprintf("installing %s into %s", mesh, meshdock.QuoteName(cfg.Context))})
	in, err := meshes.Install(ctx, cfg.REST(), meshes.InstallRequest{
		Mesh: mesh, Source: s.meshCharts, Values: req.Values,
		InstallOptions: meshes.InstallOptions{
			Timeout:  time.Duration(req.Timeout),
			HelmWait: req.HelmWait,
			Progress: func(m string) { _ = emit(EventStep, Step{Step: "install", Message: m}) },
			Wait: func(ctx context.Context, ws []meshes.Workload) error {
				return cluster.Watch(ctx, workloadRefs(ws), kube.WatchOptions{Progress: func(st kube.WorkloadStatus) {
					_ = emit(EventWorkload, WorkloadOf(st))
				}})
			},
		},
	})
	if err != nil {
		return nil, err
	}
	for _, n := range in.Notes {
		_ = emit(EventWarning, Message{Message: n})
	}
	_ = emit(EventInstalled, MeshInstalled{Mesh: in.Mesh, Version: in.Version, Releases: in.Releases, Notes: in.Notes,
		Seconds: time.Since(start).Round(time.Millisecond).Seconds()})
	return in, nil
}

// UninstallMesh removes a mesh. It refuses while apps meshdock deployed
// are enrolled in it, unless forced: their pods would lose their proxies
// and their policies. It returns what the mesh leaves behind.
func (s *Service) UninstallMesh(ctx context.Context, cluster kube.Cluster, mesh string, req MeshRequest, emit Emit) ([]string, error) {
	if err := req.CheckUninstall(mesh); err != nil {
		return nil, err
	}
	cfg, err := cluster.Config()
	if err != nil {
		return nil, err
	}
	family := []string{mesh}
	if in, _ := meshes.InstallationOf(mesh); in.Shares != "" {
		family = append(family, in.Shares)
	}
	apps, err := cluster.AppsOnMesh(ctx, family...)
	if err != nil {
		return nil, err
	}
	if len(apps) > 0 {
		var names []string
		for _, a := range apps {
			names = append(names, fmt.Sprintf("%s (namespace %s, %s)", meshdock.QuoteName(a.App), a.Namespace, a.Mesh))
		}
		msg := fmt.Sprintf("%d apps are deployed on %s: %s", len(apps), strings.Join(family, " and "), strings.Join(names, ", "))
		if !req.Force {
			return nil, meshdock.Errorf(meshdock.ECONFLICT, "%s; redeploy them with another mesh or delete them first, or uninstall with force", msg)
		}
		_ = emit(EventWarning, Message{Message: msg + ": their pods keep the mesh's marks and lose its proxies when they restart"})
	}
	_ = emit(EventStep, Step{Step: "uninstall", Message: fmt.Sprintf("uninstalling %s from %s", strings.Join(family, " and "), meshdock.QuoteName(cfg.Context))})
	left, err := meshes.Uninstall(ctx, cfg.REST(), mesh, req.Force, func(m string) { _ = emit(EventStep, Step{Step: "uninstall", Message: m}) })
	if err != nil {
		return left, err
	}
	_ = emit(EventUninstalled, MeshUninstalled{Mesh: mesh, Left: append([]string{}, left...)})
	return left, nil
}

func workloadRefs(ws []meshes.Workload) []kube.Ref {
	refs := make([]kube.Ref, len(ws))
	for i, w := range ws {
		gv, _ := schema.ParseGroupVersion(w.APIVersion)
		refs[i] = kube.Ref{GroupVersionKind: gv.WithKind(w.Kind), Namespace: w.Namespace, Name: w.Name}
	}
	return refs
}
