package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/meshes"
	"github.com/meshdock/meshdock/store"
)

// DeployRequest asks for an app to be deployed.
type DeployRequest struct {
	// Context is the kubeconfig context; empty means the current one.
	Context string `json:"context,omitempty"`
	// Namespace is the app's namespace; empty means one named after the
	// app (or the namespace it was converted for).
	Namespace string                 `json:"namespace,omitempty"`
	Options   meshdock.DeployOptions `json:"options"`
	// Expose is how published ports are reached: loadbalancer,
	// port-forward or none; empty picks by the kind of cluster.
	Expose string `json:"expose,omitempty"`
	// Policy is the app's traffic rules for the mesh (see meshes.Policy).
	Policy *meshes.Policy `json:"policy,omitempty"`
}

// Check refuses a request that cannot be carried out, before any work.
func (r DeployRequest) Check() error {
	switch r.Expose {
	case "", ExposeLoadBalancer, ExposePortForward, ExposeNone:
	default:
		return meshdock.Errorf(meshdock.EINVALID, "expose must be loadbalancer, port-forward or none, not %s", meshdock.QuoteName(r.Expose))
	}
	if r.Namespace != "" {
		if err := CheckNamespace(r.Namespace); err != nil {
			return err
		}
	}
	if _, err := meshes.Get(r.Options.Mesh); err != nil {
		return meshdock.Wrap(meshdock.EINVALID, err, "options.%s", meshdock.ErrorMessage(err))
	}
	if err := meshes.CheckAuthz(r.Options.Mesh, r.Options.Authz); err != nil {
		return meshdock.Wrap(meshdock.EINVALID, err, "options.%s", meshdock.ErrorMessage(err))
	}
	if r.Policy != nil {
		if err := r.Policy.Validate(nil); err != nil {
			return err
		}
	}
	if r.Options.Timeout < 0 || time.Duration(r.Options.Timeout) > MaxRolloutTimeout {
		return meshdock.Errorf(meshdock.EINVALID, "options.timeout must be between 0 (the default, %s) and %s", DefaultRolloutTimeout, MaxRolloutTimeout)
	}
	return nil
}

// MaxRolloutTimeout bounds how long a deploy may wait for its rollout.
const MaxRolloutTimeout = time.Hour

// MaxDeploys is how many deploys and deletes run at once; one more is
// refused as busy rather than queued.
const MaxDeploys = 4

// deploys tracks what runs per deployment: the operation working on it,
// and the port-forwards held for it.
type deploys struct {
	mu       sync.Mutex
	running  map[string]string // deployment id -> operation id
	forwards map[string][]*kube.Forward
}

func newDeploys() *deploys {
	return &deploys{running: map[string]string{}, forwards: map[string][]*kube.Forward{}}
}

// claim marks a deployment busy with an operation; it fails when another
// runs on it, or when MaxDeploys run already.
func (d *deploys) claim(key string) error {
	kubeContext, ns, _ := strings.Cut(key, "\x00")
	return d.claimAs(key, fmt.Sprintf("namespace %s of %s", ns, meshdock.QuoteName(kubeContext)))
}

// claimAs is claim, with what the key stands for in the error.
func (d *deploys) claimAs(key, what string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if op, ok := d.running[key]; ok {
		return meshdock.Errorf(meshdock.ECONFLICT, "%s is busy with operation %s: wait for it or cancel it", what, op)
	}
	if len(d.running) >= MaxDeploys {
		return meshdock.Errorf(meshdock.EUNAVAILABLE, "busy: %d deploys and deletes run at a time, try again when one has ended", MaxDeploys)
	}
	d.running[key] = "starting"
	return nil
}

// started names the operation holding a claim, unless the operation
// ended (and released it) already: a quick one must not be claimed again.
func (d *deploys) started(depID, opID string) {
	d.mu.Lock()
	if _, ok := d.running[depID]; ok {
		d.running[depID] = opID
	}
	d.mu.Unlock()
}

func (d *deploys) release(depID string) {
	d.mu.Lock()
	delete(d.running, depID)
	d.mu.Unlock()
}

func (d *deploys) setForwards(depID string, fs []*kube.Forward) {
	d.mu.Lock()
	old := d.forwards[depID]
	if len(fs) == 0 {
		delete(d.forwards, depID)
	} else {
		d.forwards[depID] = fs
	}
	d.mu.Unlock()
	for _, f := range old {
		f.Close()
	}
}

func (d *deploys) stopForwards() {
	d.mu.Lock()
	all := d.forwards
	d.forwards = map[string][]*kube.Forward{}
	d.mu.Unlock()
	for _, fs := range all {
		for _, f := range fs {
			f.Close()
		}
	}
}

// StartDeploy deploys a stored app as an operation, and returns the
// deployment (created, or the app's earlier one in that namespace) and
// the operation whose events tell the progress.
func (s *Service) StartDeploy(ctx context.Context, appID string, req DeployRequest) (*meshdock.Deployment, *store.Operation, error) {
	if err := req.Check(); err != nil {
		return nil, nil, err
	}
	a, err := s.store.App(ctx, appID)
	if err != nil {
		return nil, nil, err
	}
	if req.Policy != nil {
		var services []string
		for _, n := range a.Graph.Nodes {
			services = append(services, n.ID)
		}
		if err := req.Policy.Validate(services); err != nil {
			return nil, nil, err
		}
	}
	cluster, err := s.clusters.Cluster(req.Context)
	if err != nil {
		return nil, nil, err
	}
	// A mesh that is not there is said now, with how to install it, rather
	// than by the operation.
	if err := cluster.HasMesh(ctx, req.Options.Mesh); err != nil {
		return nil, nil, err
	}
	cfg, _ := cluster.Config()
	ns := req.Namespace
	if ns == "" {
		ns = a.Namespace
	}
	if ns == "" {
		ns = NamespaceFor(a.Name)
	}
	if err := CheckNamespace(ns); err != nil {
		return nil, nil, err
	}
	// The place is claimed before any record is made: a deploy refused
	// as busy leaves nothing behind.
	key := placeOf(cfg.Context, ns)
	if err := s.deploys.claim(key); err != nil {
		return nil, nil, err
	}
	dep, fresh, err := s.deploymentFor(ctx, a, cfg.Context, ns, req.Options)
	if err != nil {
		s.deploys.release(key)
		return nil, nil, err
	}
	plan := Plan{Project: a.Name, Objects: a.Objects, Builds: a.Builds, Graph: a.Graph, Files: filesFS(a.Files), Options: req.Options, Expose: req.Expose, Policy: req.Policy}
	return s.startOnDeployment(ctx, dep, key, fresh, "deploy", func(d *meshdock.Deployment) {
		d.State, d.Message, d.Options = meshdock.Deploying, "", req.Options
	}, func(ctx context.Context, d *meshdock.Deployment, emit Emit) error {
		return s.runDeploy(ctx, d, fresh, cluster, plan, emit)
	})
}

// placeOf names a namespace of a cluster context, where one operation
// runs at a time.
func placeOf(kubeContext, ns string) string { return kubeContext + "\x00" + ns }

// startOnDeployment runs work on a deployment as an operation, its place
// claimed already (one operation per namespace of a cluster). The record
// says the operation runs before the work may touch it: the work owns its
// own copy from then on. A fresh record is removed when the operation
// cannot start.
func (s *Service) startOnDeployment(ctx context.Context, dep *meshdock.Deployment, key string, fresh bool, kind string, begin func(*meshdock.Deployment),
	work func(context.Context, *meshdock.Deployment, Emit) error) (*meshdock.Deployment, *store.Operation, error) {
	ready := make(chan *meshdock.Deployment, 1)
	op, err := s.StartOperation(ctx, kind, dep.AppID, func(ctx context.Context, emit func(string, any) error) error {
		defer s.deploys.release(key)
		d := <-ready
		if d == nil {
			return meshdock.Errorf(meshdock.EUNAVAILABLE, "the deployment's record could not be written")
		}
		return work(ctx, d, emit)
	})
	if err != nil {
		s.deploys.release(key)
		if fresh {
			_ = s.store.DeleteDeployment(context.WithoutCancel(ctx), dep.ID)
		}
		return nil, nil, err
	}
	s.deploys.started(key, op.ID)
	begin(dep)
	dep.LastOperation = op.ID
	if err := s.store.UpdateDeployment(context.WithoutCancel(ctx), dep); err != nil {
		ready <- nil
		return nil, nil, err
	}
	shown := *dep
	ready <- dep
	if shown.Objects == nil {
		shown.Objects, shown.Workloads, shown.URLs = []meshdock.ObjectState{}, []meshdock.WorkloadState{}, []meshdock.URL{}
	}
	return &shown, op, nil
}

// deploymentFor returns the app's deployment in a namespace of a context,
// making it if there is none. A namespace another app is deployed into is
// refused; one whose deployment was deleted is taken over.
func (s *Service) deploymentFor(ctx context.Context, a *store.App, kubeContext, ns string, opts meshdock.DeployOptions) (*meshdock.Deployment, bool, error) {
	list, err := s.store.Deployments(ctx, a.ID)
	if err != nil {
		return nil, false, err
	}
	for _, d := range list {
		if d.Context == kubeContext && d.Namespace == ns {
			return d, false, nil
		}
	}
	d := &meshdock.Deployment{AppID: a.ID, Context: kubeContext, Namespace: ns, Options: opts, State: meshdock.Deploying}
	err = s.store.CreateDeployment(ctx, d)
	if meshdock.ErrorCode(err) == meshdock.ECONFLICT {
		if other, oerr := s.store.DeploymentAt(ctx, kubeContext, ns); oerr == nil && other.State == meshdock.Deleted {
			if err = s.store.DeleteDeployment(ctx, other.ID); err == nil {
				err = s.store.CreateDeployment(ctx, d)
			}
		}
	}
	return d, err == nil, err
}

// runDeploy is the work of a deploy operation: the deploy itself, then the
// deployment's record and its port-forwards.
func (s *Service) runDeploy(ctx context.Context, dep *meshdock.Deployment, fresh bool, cluster kube.Cluster, plan Plan, emit Emit) error {
	kind := s.clusters.Kind(ctx, dep.Context)
	out, err := s.Deploy(ctx, Target{Cluster: cluster, Kind: kind, Context: dep.Context, Namespace: dep.Namespace}, plan, emit)
	if out != nil {
		dep.Objects, dep.Workloads = out.Objects, out.Workloads
	}
	dep.URLs = nil
	s.deploys.setForwards(dep.ID, nil)
	switch {
	case err != nil:
		dep.State, dep.Message = meshdock.Failed, meshdock.ErrorMessage(err)
		if errors.Is(err, context.Canceled) || meshdock.ErrorCode(err) == meshdock.ECANCELED {
			dep.Message = "canceled"
		}
	default:
		dep.State, dep.Message, dep.Kept = meshdock.Deployed, "", nil
		dep.URLs = s.expose(ctx, cluster, dep, out, emit)
	}
	if err != nil && fresh && len(dep.Objects) == 0 {
		// Nothing of it reached the cluster: no deployment to keep (the
		// operation says why).
		return errors.Join(err, s.store.DeleteDeployment(context.WithoutCancel(ctx), dep.ID))
	}
	if uerr := s.store.UpdateDeployment(context.WithoutCancel(ctx), dep); uerr != nil {
		return errors.Join(err, uerr)
	}
	return err
}

// expose makes the published ports reachable and says where: the
// LoadBalancer's localhost port, or a port-forward this service holds.
func (s *Service) expose(ctx context.Context, cluster kube.Cluster, dep *meshdock.Deployment, out *Outcome, emit Emit) []meshdock.URL {
	var urls []meshdock.URL
	var forwards []*kube.Forward
	for _, p := range out.Published {
		u := meshdock.URL{Service: p.Service, Port: p.HostPort, Via: out.Expose}
		switch out.Expose {
		case ExposeNone:
			continue
		case ExposeLoadBalancer:
			u.URL = fmt.Sprintf("http://127.0.0.1:%d", p.HostPort)
		case ExposePortForward:
			f, err := s.forward(ctx, cluster, dep.Namespace, p)
			if err != nil {
				u.Error = meshdock.ErrorMessage(err)
			} else {
				forwards = append(forwards, f)
				u.URL = "http://" + f.Local
			}
		}
		urls = append(urls, u)
		_ = emit(EventURL, u)
	}
	s.deploys.setForwards(dep.ID, forwards)
	return urls
}

// forward opens a port-forward to a ready pod of a published port, on the
// port compose publishes when it is free, else on any free port.
func (s *Service) forward(ctx context.Context, cluster kube.Cluster, ns string, p Published) (*kube.Forward, error) {
	pod, err := cluster.ReadyPod(ctx, ns, p.Selector)
	if err != nil {
		return nil, err
	}
	local := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(p.HostPort)))
	if l, err := net.Listen("tcp", local); err != nil {
		local = "127.0.0.1:0" // taken, by the compose app itself perhaps
	} else {
		l.Close()
	}
	// The forward outlives the operation: it is held until the next
	// deploy, a delete or shutdown.
	return cluster.PortForward(context.WithoutCancel(ctx), ns, pod, local, p.Port)
}

// filesFS serves an app's stored files, where its build contexts are.
func filesFS(files []store.File) fs.FS {
	m := fstest.MapFS{}
	for _, f := range files {
		m[f.Name] = &fstest.MapFile{Data: f.Content, Mode: 0o644}
	}
	return m
}

// Deployments lists an app's deployments.
func (s *Service) Deployments(ctx context.Context, appID string) ([]*meshdock.Deployment, error) {
	if _, err := s.store.App(ctx, appID); err != nil {
		return nil, err
	}
	return s.store.Deployments(ctx, appID)
}

// Deployment returns one deployment of an app.
func (s *Service) Deployment(ctx context.Context, appID, id string) (*meshdock.Deployment, error) {
	d, err := s.store.Deployment(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.AppID != appID {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "app %s has no deployment %s", meshdock.QuoteName(appID), meshdock.QuoteName(id))
	}
	return d, nil
}

// StartDelete removes a deployment's objects from its cluster as an
// operation; its claims stay unless volumes is true (the deployment then
// lists those kept).
func (s *Service) StartDelete(ctx context.Context, appID, id string, volumes bool) (*meshdock.Deployment, *store.Operation, error) {
	dep, err := s.Deployment(ctx, appID, id)
	if err != nil {
		return nil, nil, err
	}
	cluster, err := s.clusters.Cluster(dep.Context)
	if err != nil {
		return nil, nil, err
	}
	a, err := s.store.App(ctx, appID)
	if err != nil {
		return nil, nil, err
	}
	key := placeOf(dep.Context, dep.Namespace)
	if err := s.deploys.claim(key); err != nil {
		return nil, nil, err
	}
	return s.startOnDeployment(ctx, dep, key, false, "delete", func(d *meshdock.Deployment) { d.State = meshdock.Deleting },
		func(ctx context.Context, d *meshdock.Deployment, emit Emit) error {
			s.deploys.setForwards(d.ID, nil)
			ctx, cancel := context.WithTimeout(ctx, ApplyTimeout)
			defer cancel()
			kept, err := s.Delete(ctx, cluster, d.Namespace, a.Name, volumes, emit)
			d.Kept = kept
			if err != nil {
				d.State, d.Message = meshdock.Failed, meshdock.ErrorMessage(err)
			} else {
				d.State, d.Message, d.Objects, d.Workloads, d.URLs = meshdock.Deleted, "", nil, nil, nil
			}
			return errors.Join(err, s.store.UpdateDeployment(context.WithoutCancel(ctx), d))
		})
}

// Delete removes what meshdock deployed into a namespace, keeping its
// claims unless volumes is true, and returns those kept. With an owner (an
// app's project name), a namespace that holds another app is refused.
func (s *Service) Delete(ctx context.Context, cluster kube.Cluster, ns, owner string, volumes bool, emit Emit) ([]meshdock.ObjectRef, error) {
	deleted, kept, err := cluster.Delete(ctx, ns, owner, volumes)
	for _, r := range deleted {
		_ = emit(EventDeleted, refOf(r))
	}
	var out []meshdock.ObjectRef
	for _, r := range kept {
		out = append(out, refOf(r))
		_ = emit(EventKept, refOf(r))
	}
	return out, err
}

// DeleteApp removes a stored app; one still deployed somewhere is refused
// (delete its deployments first, or the cluster keeps objects nobody
// tracks).
func (s *Service) DeleteApp(ctx context.Context, id string) error {
	deps, err := s.store.Deployments(ctx, id)
	if err != nil {
		return err
	}
	for _, d := range deps {
		if d.State != meshdock.Deleted {
			return meshdock.Errorf(meshdock.ECONFLICT, "app %s is deployed into namespace %s of %s: delete that deployment first", meshdock.QuoteName(id), d.Namespace, d.Context)
		}
	}
	return s.store.DeleteApp(ctx, id)
}
