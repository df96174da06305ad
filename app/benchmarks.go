package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"fortio.org/fortio/fhttp"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/bench"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/meshes"
	"github.com/meshdock/meshdock/store"
)

// DefaultLoadgenImage is the load generator's image when none is
// configured: meshdock's own, which runs `meshdock loadgen`.
const DefaultLoadgenImage = "meshdock/meshdock:latest"

// Event types of a benchmark operation.
const (
	EventProgress = "progress" // bench.Progress: the run so far, each second
	EventLoadgen  = "loadgen"  // LoadgenState: the in-cluster load generators
	EventResult   = "result"   // meshdock.Benchmark: the test and its summary
)

// LoadgenState is where the in-cluster load generators stand.
type LoadgenState struct {
	Job     string `json:"job"`
	Pods    int    `json:"pods"`
	Running int    `json:"running"`
	Ended   int    `json:"ended"`
	Message string `json:"message,omitempty"`
}

// BenchPolicy is what a shell lets a load test do. The HTTP API is
// reachable by anyone on the machine, so from it the server loads only
// addresses of this machine, and in the cluster only the cluster's
// Services; the command line may load any URL.
type BenchPolicy struct {
	AnyHost bool
	// Image is the load generator's image (DefaultLoadgenImage).
	Image string
	// Cluster, when set, is the cluster of the tests (the command line's
	// --kubeconfig and --context); else the spec's context names one.
	Cluster func() (kube.Cluster, error)
}

// benchmarks allows one load test at a time: two would measure each
// other.
type benchmarks struct {
	mu      sync.Mutex
	running string
}

func (b *benchmarks) claim() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running != "" {
		return meshdock.Errorf(meshdock.ECONFLICT, "a load test is running (benchmark %s): wait for it to end or cancel it; two at once would measure each other", b.running)
	}
	b.running = "starting"
	return nil
}

func (b *benchmarks) set(id string) { b.mu.Lock(); b.running = id; b.mu.Unlock() }
func (b *benchmarks) release()      { b.mu.Lock(); b.running = ""; b.mu.Unlock() }

// benchPlan is a checked test: the load, where it goes and from where.
type benchPlan struct {
	spec        meshdock.BenchmarkSpec
	opts        bench.Options
	cluster     kube.Cluster
	namespace   string
	mesh        string
	meshVersion string
	image       string
	clusterOf   func() (kube.Cluster, error)
	// target is the Service's pods and port (a Service target only).
	target *meshes.Caller
}

// serviceRef is `service[.namespace][:port][/path]`.
var serviceRef = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.([a-z0-9]([-a-z0-9]*[a-z0-9])?))?(:([a-z0-9-]{1,15}))?(/.*)?$`)

// withDefaults fills in what a spec leaves out.
func withDefaults(spec meshdock.BenchmarkSpec) meshdock.BenchmarkSpec {
	if spec.Connections == 0 {
		spec.Connections = 4
	}
	if spec.Pods == 0 {
		spec.Pods = 1
	}
	return spec
}

// options are the spec's load on a URL.
func options(spec meshdock.BenchmarkSpec, target string) bench.Options {
	o := bench.Options{URL: target, QPS: spec.QPS, Connections: spec.Connections, Duration: time.Duration(spec.Duration),
		Method: spec.Method, Headers: spec.Headers, Percentiles: spec.Percentiles, H2: spec.H2}
	if spec.Body != "" {
		o.Body = []byte(spec.Body)
	}
	return o
}

// CheckSpec checks what a spec says on its own, before the cluster is
// asked anything or a test is claimed: one target, the load's bounds,
// labels, body, pods, and what the policy lets it do.
func CheckSpec(spec meshdock.BenchmarkSpec, pol BenchPolicy) error {
	spec = withDefaults(spec)
	if (spec.URL == "") == (spec.Service == "") {
		return meshdock.Errorf(meshdock.EINVALID, "name the target: url, or service (service[.namespace][:port][/path]), not both")
	}
	if spec.Duration == 0 {
		return meshdock.Errorf(meshdock.EINVALID, "duration: say how long the test runs (more than 0, at most %s)", bench.MaxDuration)
	}
	// The load's bounds on a stand-in URL when the target is a Service.
	target := spec.URL
	if target == "" {
		target = "http://target/"
	}
	check := options(spec, target)
	if err := check.Check(); err != nil {
		return err
	}
	if len(spec.Labels) > 20 {
		return meshdock.Errorf(meshdock.EINVALID, "labels: at most 20")
	}
	for k, v := range spec.Labels {
		if k == "" || len(k) > 63 || len(v) > 256 {
			return meshdock.Errorf(meshdock.EINVALID, "label %s: a name of 1 to 63 characters and a value of at most 256", meshdock.Quote(k, 70))
		}
	}
	if spec.Service != "" {
		// A mesh's proxy routes by these: they would send the load to
		// another Service than the one named.
		for _, h := range spec.Headers {
			name, _, _ := strings.Cut(h, ":")
			switch n := strings.ToLower(strings.TrimSpace(name)); {
			case n == "host" || n == "l5d-dst-override" || strings.HasPrefix(n, "x-envoy-") || strings.HasPrefix(n, "x-kuma-"):
				return meshdock.Errorf(meshdock.EINVALID, "header %s: a Service target is reached by its own name; the mesh would route this header elsewhere", meshdock.Quote(name, 40))
			}
		}
	}
	if spec.InCluster {
		if err := bench.CheckPods(spec.Pods, spec.Connections); err != nil {
			return err
		}
		if spec.URL != "" && !pol.AnyHost {
			return meshdock.Errorf(meshdock.EFORBIDDEN, "in the cluster the server load-tests the app's Services only: give service instead of url")
		}
	} else if spec.Pods != 1 {
		return meshdock.Errorf(meshdock.EINVALID, "pods: several load generators run only in the cluster (inCluster)")
	}
	return nil
}

// planBenchmark checks a spec before any load: its load's bounds, its
// target (a URL of this machine from the API; a Service that exists, in
// a namespace that exists), where it runs.
func (s *Service) planBenchmark(ctx context.Context, spec meshdock.BenchmarkSpec, pol BenchPolicy) (*benchPlan, error) {
	if err := CheckSpec(spec, pol); err != nil {
		return nil, err
	}
	spec = withDefaults(spec)
	p := &benchPlan{spec: spec, mesh: meshes.None, image: pol.Image, clusterOf: pol.Cluster}
	if p.image == "" {
		p.image = DefaultLoadgenImage
	}
	if spec.URL != "" {
		p.opts = options(spec, spec.URL)
		if err := p.opts.Check(); err != nil {
			return nil, err
		}
		if spec.InCluster {
			if err := s.benchCluster(ctx, p); err != nil {
				return nil, err
			}
			return p, nil
		}
		if !pol.AnyHost {
			return p, p.opts.PinLoopback(ctx)
		}
		_, err := p.opts.Resolve(ctx)
		return p, err
	}
	return p, s.planService(ctx, p, pol)
}

// benchCluster finds the cluster and namespace of an in-cluster test, and
// the namespace's mesh.
func (s *Service) benchCluster(ctx context.Context, p *benchPlan) error {
	if p.namespace == "" {
		p.namespace = p.spec.Namespace
	}
	if p.namespace == "" {
		return meshdock.Errorf(meshdock.EINVALID, "namespace: name the namespace of the target (service.namespace, or namespace)")
	}
	if err := CheckNamespace(p.namespace); err != nil {
		return err
	}
	var cluster kube.Cluster
	var err error
	if p.clusterOf != nil {
		cluster, err = p.clusterOf()
	} else {
		cluster, err = s.clusters.Cluster(p.spec.Context)
	}
	if err != nil {
		return err
	}
	p.cluster = cluster
	if p.mesh, err = cluster.NamespaceMesh(ctx, p.namespace); err != nil {
		return err
	}
	if p.mesh != meshes.None {
		if st, err := cluster.Mesh(ctx, p.mesh); err == nil {
			p.meshVersion = st.Version
		}
	}
	return nil
}

// planService resolves a Service target: its port, and the URL the load
// goes to: the cluster's name for it from inside the cluster, the port
// the deploy exposed on this machine otherwise.
func (s *Service) planService(ctx context.Context, p *benchPlan, pol BenchPolicy) error {
	m := serviceRef.FindStringSubmatch(p.spec.Service)
	if m == nil {
		return meshdock.Errorf(meshdock.EINVALID, "service %s: write it service[.namespace][:port][/path]", meshdock.Quote(p.spec.Service, 100))
	}
	name, path := m[1], m[8]
	if m[4] != "" {
		if p.spec.Namespace != "" && p.spec.Namespace != m[4] {
			return meshdock.Errorf(meshdock.EINVALID, "service %s names namespace %s, and namespace says %s", meshdock.Quote(p.spec.Service, 100), m[4], meshdock.QuoteName(p.spec.Namespace))
		}
		p.namespace = m[4]
	}
	if path == "" {
		path = "/"
	}
	if err := s.benchCluster(ctx, p); err != nil {
		return err
	}
	info, err := p.cluster.Service(ctx, p.namespace, name)
	if err != nil {
		return err
	}
	port, err := pickPort(name, info.Ports, m[7])
	if err != nil {
		return err
	}
	p.target = &meshes.Caller{Target: info.Selector, Port: port.TargetPort, Protocol: port.Protocol}
	scheme := "http"
	if port.Port == 443 || strings.Contains(strings.ToLower(port.AppProtocol), "https") || strings.HasPrefix(port.Name, "https") {
		scheme = "https"
	}
	if p.spec.InCluster {
		p.opts = options(p.spec, fmt.Sprintf("%s://%s.%s.svc.cluster.local:%d%s", scheme, name, p.namespace, port.Port, path))
		return p.opts.Check()
	}
	// From the server: the port its deploy exposed here.
	cfg, _ := p.cluster.Config()
	if dep, err := s.deploymentAt(ctx, cfg.Context, p.namespace); err == nil {
		for _, u := range dep.URLs {
			if u.Service == name && u.Port == port.Port && u.URL != "" && u.Error == "" {
				base, err := url.Parse(u.URL)
				if err != nil {
					break
				}
				p.opts = options(p.spec, strings.TrimSuffix(base.String(), "/")+path)
				if err := p.opts.Check(); err != nil {
					return err
				}
				if !pol.AnyHost {
					return p.opts.PinLoopback(ctx)
				}
				_, err = p.opts.Resolve(ctx)
				return err
			}
		}
	}
	return meshdock.Errorf(meshdock.EINVALID, "Service %s port %d is not exposed on this machine: run the test in the cluster (inCluster), which also crosses the mesh as the app's traffic does", meshdock.QuoteName(p.namespace+"/"+name), port.Port)
}

// pickPort is the Service port named (by number or name), or its only
// or first HTTP-looking one.
func pickPort(svc string, ports []kube.ServicePort, want string) (kube.ServicePort, error) {
	if len(ports) == 0 {
		return kube.ServicePort{}, meshdock.Errorf(meshdock.EINVALID, "Service %s has no ports", meshdock.QuoteName(svc))
	}
	var names []string
	for _, p := range ports {
		names = append(names, fmt.Sprint(p.Port))
		if want != "" && (want == p.Name || want == fmt.Sprint(p.Port)) {
			return p, nil
		}
	}
	if want != "" {
		return kube.ServicePort{}, meshdock.Errorf(meshdock.ENOTFOUND, "Service %s has no port %s (it has %s)", meshdock.QuoteName(svc), meshdock.Quote(want, 20), strings.Join(names, ", "))
	}
	for _, p := range ports {
		if strings.HasPrefix(p.Name, "http") || strings.Contains(p.AppProtocol, "http") {
			return p, nil
		}
	}
	return ports[0], nil
}

// BenchResult is a finished test: its record and fortio's result.
type BenchResult struct {
	Benchmark *meshdock.Benchmark
	Fortio    *fhttp.HTTPRunnerResults
}

// CheckBenchmark checks a spec as StartBenchmark would, without running it.
func (s *Service) CheckBenchmark(ctx context.Context, spec meshdock.BenchmarkSpec, pol BenchPolicy) error {
	_, err := s.planBenchmark(ctx, spec, pol)
	return err
}

// RunBenchmark runs a load test where its spec says and waits for it; the
// record is not stored (the command line's way). A canceled test returns
// what it measured, with ctx's error.
func (s *Service) RunBenchmark(ctx context.Context, spec meshdock.BenchmarkSpec, pol BenchPolicy, emit Emit) (*BenchResult, error) {
	p, err := s.planBenchmark(ctx, spec, pol)
	if err != nil {
		return nil, err
	}
	b := p.record()
	b.ID = "cli-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	res, err := s.runPlan(ctx, p, b.ID, emit)
	return finish(b, res, err), err
}

// record is the stored form of a plan, before it runs.
func (p *benchPlan) record() *meshdock.Benchmark {
	return &meshdock.Benchmark{Spec: p.spec, State: meshdock.BenchRunning, Target: p.opts.URL, Mesh: p.mesh, MeshVersion: p.meshVersion}
}

// finish writes a run's outcome into its record.
func finish(b *meshdock.Benchmark, res *fhttp.HTTPRunnerResults, err error) *BenchResult {
	switch {
	case err == nil:
		b.State = meshdock.BenchDone
	case errors.Is(err, context.Canceled) || meshdock.ErrorCode(err) == meshdock.ECANCELED:
		b.State, b.Message = meshdock.BenchCanceled, "canceled"
	default:
		b.State, b.Message = meshdock.BenchFailed, meshdock.ErrorMessage(err)
	}
	if res != nil && res.DurationHistogram != nil {
		b.Summary = bench.Summary(res)
	}
	return &BenchResult{Benchmark: b, Fortio: res}
}

// runPlan runs a checked test in-process or in the cluster.
func (s *Service) runPlan(ctx context.Context, p *benchPlan, id string, emit Emit) (*fhttp.HTTPRunnerResults, error) {
	if p.spec.InCluster {
		return s.runInCluster(ctx, p, id, emit)
	}
	o := p.opts
	o.Progress = func(pr bench.Progress) { _ = emit(EventProgress, pr) }
	return bench.Run(ctx, o)
}

// StartBenchmark stores a load test and runs it as an operation; one runs
// at a time.
func (s *Service) StartBenchmark(ctx context.Context, spec meshdock.BenchmarkSpec, pol BenchPolicy) (*meshdock.Benchmark, *store.Operation, error) {
	bs, op, err := s.startBenchmarks(ctx, []meshdock.BenchmarkSpec{spec}, pol, nil)
	if err != nil {
		return nil, nil, err
	}
	return bs[0], op, nil
}

// Comparison event: the comparison of the two tests of StartComparison.
const EventComparison = "comparison"

// StartComparison runs one test against the same Service in two
// namespaces (the app without a mesh and with one), one after the other
// in one operation, and ends with their comparison (a comparison event);
// the first namespace is the baseline.
func (s *Service) StartComparison(ctx context.Context, spec meshdock.BenchmarkSpec, namespaces []string, pol BenchPolicy) ([]*meshdock.Benchmark, *store.Operation, error) {
	if len(namespaces) != 2 || namespaces[0] == namespaces[1] {
		return nil, nil, meshdock.Errorf(meshdock.EINVALID, "namespaces: name two, the baseline first (the app without a mesh, then with one)")
	}
	if spec.Service == "" {
		return nil, nil, meshdock.Errorf(meshdock.EINVALID, "service: a comparison loads the same Service of the app in each namespace")
	}
	if m := serviceRef.FindStringSubmatch(spec.Service); m != nil && m[4] != "" {
		return nil, nil, meshdock.Errorf(meshdock.EINVALID, "service %s: give it without a namespace; namespaces names them", meshdock.Quote(spec.Service, 100))
	}
	specs := make([]meshdock.BenchmarkSpec, 2)
	for i, ns := range namespaces {
		specs[i] = spec
		specs[i].Namespace = ns
	}
	return s.startBenchmarks(ctx, specs, pol, func(ctx context.Context, bs []*meshdock.Benchmark, emit Emit) {
		if c, err := s.CompareBenchmarks(ctx, bs[0].ID, bs[1].ID, true); err == nil {
			_ = emit(EventComparison, c)
		}
	})
}

// startBenchmarks checks every test, stores them and runs them one after
// the other as one operation; then, when all have results, runs after.
func (s *Service) startBenchmarks(ctx context.Context, specs []meshdock.BenchmarkSpec, pol BenchPolicy, after func(context.Context, []*meshdock.Benchmark, Emit)) ([]*meshdock.Benchmark, *store.Operation, error) {
	// Every test is checked before the one slot is claimed: a bad test is
	// said as such even while another runs.
	var plans []*benchPlan
	for _, spec := range specs {
		p, err := s.planBenchmark(ctx, spec, pol)
		if err != nil {
			return nil, nil, err
		}
		plans = append(plans, p)
	}
	if err := s.benches.claim(); err != nil {
		return nil, nil, err
	}
	claimed := true
	defer func() {
		if claimed {
			s.benches.release()
		}
	}()
	var records, runs []*meshdock.Benchmark
	for _, p := range plans {
		b := p.record()
		if err := s.store.CreateBenchmark(ctx, b); err != nil {
			for _, r := range records {
				r.State, r.Message = meshdock.BenchFailed, "not started: "+meshdock.ErrorMessage(err)
				_ = s.store.UpdateBenchmark(context.WithoutCancel(ctx), r, nil)
			}
			return nil, nil, err
		}
		run := *b
		records, runs = append(records, b), append(runs, &run)
	}
	s.benches.set(records[0].ID)
	// The records learn their operation before the operation may write
	// them.
	ready := make(chan struct{})
	op, err := s.StartOperation(ctx, "benchmark", "", func(ctx context.Context, emit func(string, any) error) error {
		defer s.benches.release()
		<-ready
		var errs []error
		for i, p := range plans {
			s.benches.set(runs[i].ID)
			var res *fhttp.HTTPRunnerResults
			var err error
			if ctx.Err() != nil {
				err = ctx.Err() // canceled before its turn
			} else {
				res, err = s.runPlan(ctx, p, runs[i].ID, emit)
			}
			out := finish(runs[i], res, err)
			var data []byte
			if res != nil {
				data, _ = json.Marshal(res)
			}
			if uerr := s.store.UpdateBenchmark(context.WithoutCancel(ctx), out.Benchmark, data); uerr != nil {
				err = errors.Join(err, uerr)
			}
			_ = emit(EventResult, out.Benchmark)
			if err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) == 0 && after != nil {
			after(ctx, runs, emit)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		for _, b := range records {
			b.State, b.Message = meshdock.BenchFailed, meshdock.ErrorMessage(err)
			_ = s.store.UpdateBenchmark(context.WithoutCancel(ctx), b, nil)
		}
		return nil, nil, err
	}
	claimed = false
	defer close(ready)
	for i, b := range records {
		b.OperationID, runs[i].OperationID = op.ID, op.ID
		if err := s.store.UpdateBenchmark(context.WithoutCancel(ctx), b, nil); err != nil {
			return nil, nil, err
		}
	}
	return records, op, nil
}

// Benchmarks lists the stored tests, newest first.
func (s *Service) Benchmarks(ctx context.Context, limit int) ([]*meshdock.Benchmark, error) {
	return s.store.Benchmarks(ctx, limit)
}

// Benchmark returns a stored test.
func (s *Service) Benchmark(ctx context.Context, id string) (*meshdock.Benchmark, error) {
	return s.store.Benchmark(ctx, id)
}

// BenchmarkResult returns a stored test with fortio's result.
func (s *Service) BenchmarkResult(ctx context.Context, id string) (*BenchResult, error) {
	b, err := s.store.Benchmark(ctx, id)
	if err != nil {
		return nil, err
	}
	data, err := s.store.BenchmarkResult(ctx, id)
	if err != nil {
		return nil, err
	}
	var res fhttp.HTTPRunnerResults
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, meshdock.Wrap(meshdock.EINTERNAL, err, "the result of benchmark %s cannot be read: %v", id, err)
	}
	return &BenchResult{Benchmark: b, Fortio: &res}, nil
}

// DeleteBenchmark removes a stored test; a running one is a conflict.
func (s *Service) DeleteBenchmark(ctx context.Context, id string) error {
	b, err := s.store.Benchmark(ctx, id)
	if err != nil {
		return err
	}
	if b.State == meshdock.BenchRunning {
		return meshdock.Errorf(meshdock.ECONFLICT, "benchmark %s is running: cancel its operation first", id)
	}
	return s.store.DeleteBenchmark(ctx, id)
}

// SMP is a result as Service Mesh Performance.
func SMP(r *BenchResult) bench.SMPResult {
	labels := map[string]string{}
	for k, v := range r.Benchmark.Spec.Labels {
		labels[k] = v
	}
	if r.Benchmark.Spec.InCluster {
		labels["meshdock.io/load-generator"] = "in-cluster"
	} else {
		labels["meshdock.io/load-generator"] = "in-process"
	}
	return bench.ToSMP(r.Benchmark.ID, r.Fortio, bench.Mesh{Type: r.Benchmark.Mesh, Version: r.Benchmark.MeshVersion}, labels)
}

// CompareBenchmarks puts stored test b beside stored test a (the
// baseline), with the resources the proxies of each one's namespace
// reserve and use when the cluster can be read.
func (s *Service) CompareBenchmarks(ctx context.Context, a, b string, readCluster bool) (*bench.Comparison, error) {
	ra, err := s.BenchmarkResult(ctx, a)
	if err != nil {
		return nil, err
	}
	rb, err := s.BenchmarkResult(ctx, b)
	if err != nil {
		return nil, err
	}
	c := bench.Compare(ra.Benchmark, rb.Benchmark, ra.Fortio, rb.Fortio)
	proxies := map[string]*kube.ProxyUse{}
	for _, side := range []*meshdock.Benchmark{ra.Benchmark, rb.Benchmark} {
		ns := side.Spec.Namespace
		if ns == "" {
			if m := serviceRef.FindStringSubmatch(side.Spec.Service); m != nil {
				ns = m[4]
			}
		}
		if ns == "" || side.Mesh == meshes.None {
			continue
		}
		if !readCluster {
			c.Notes = append(c.Notes, fmt.Sprintf("the proxies of namespace %s are not read: this listener does not use the clusters", ns))
			continue
		}
		cluster, err := s.clusters.Cluster(side.Spec.Context)
		if err != nil {
			c.Notes = append(c.Notes, fmt.Sprintf("the proxies of namespace %s cannot be read: %s", ns, meshdock.ErrorMessage(err)))
			continue
		}
		use, err := cluster.ProxyUse(ctx, ns, map[string]string{"app.kubernetes.io/name": bench.LoadgenName})
		if err != nil {
			c.Notes = append(c.Notes, fmt.Sprintf("the proxies of namespace %s cannot be read: %s", ns, meshdock.ErrorMessage(err)))
			continue
		}
		proxies[side.ID] = &use
		if use.Usage == nil {
			c.Notes = append(c.Notes, fmt.Sprintf("namespace %s: the cluster serves no metrics API (metrics-server), so the proxies' usage is not known; their requests and limits are from the pod specs", ns))
		}
		if side.Mesh == meshes.IstioAmbient {
			c.Notes = append(c.Notes, "istio-ambient: the proxies are ztunnel (one per node, in istio-system) and waypoints, not in the app's pods; their cost is not counted here")
		}
	}
	if len(proxies) > 0 {
		c.Cost.Proxies = proxies
	}
	return c, nil
}

// Profiles lists the saved test profiles.
func (s *Service) Profiles(ctx context.Context) ([]*meshdock.BenchProfile, error) {
	return s.store.Profiles(ctx)
}

// profileName is a profile's name: a short label.
var profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$`)

// SaveProfile saves a test under a name; its load is checked as a test's
// is, its target when it runs.
func (s *Service) SaveProfile(ctx context.Context, p *meshdock.BenchProfile) error {
	if !profileName.MatchString(p.Name) {
		return meshdock.Errorf(meshdock.EINVALID, "profile name %s: 1 to 63 letters, digits, spaces, dots, dashes or underscores", meshdock.Quote(p.Name, 70))
	}
	if err := CheckSpec(p.Spec, BenchPolicy{AnyHost: true}); err != nil {
		return err
	}
	p.Spec = withDefaults(p.Spec)
	return s.store.SaveProfile(ctx, p)
}

// Profile returns a saved test profile.
func (s *Service) Profile(ctx context.Context, name string) (*meshdock.BenchProfile, error) {
	return s.store.Profile(ctx, name)
}

// DeleteProfile removes a saved test profile.
func (s *Service) DeleteProfile(ctx context.Context, name string) error {
	return s.store.DeleteProfile(ctx, name)
}

// deploymentAt is the stored deployment of a namespace; a Service run
// without a store (the command line) has none.
func (s *Service) deploymentAt(ctx context.Context, kubeContext, ns string) (*meshdock.Deployment, error) {
	if s.store == nil {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "no store")
	}
	return s.store.DeploymentAt(ctx, kubeContext, ns)
}
