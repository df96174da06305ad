package app

import (
	"bufio"
	"context"
	"fmt"
	"sync"
	"time"

	"fortio.org/fortio/fhttp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/bench"
	"github.com/meshdock/meshdock/kube"
	"github.com/meshdock/meshdock/meshes"
)

// consulShutdown is Consul's dataplane's endpoint that ends it, so that a
// Job's pod ends when its container does (the dataplane is not a native
// sidecar).
const consulShutdown = "http://127.0.0.1:20600/graceful_shutdown"

// loadgenStart bounds how long the load generators may take to start
// (image pull, proxy injection) and to be read, beyond the test itself.
const loadgenStart = 3 * time.Minute

// runInCluster runs a test as a Job of load generators in the target's
// namespace, enrolled in its mesh, and merges their results, read from
// their pods' logs through the API server.
func (s *Service) runInCluster(ctx context.Context, p *benchPlan, id string, emit Emit) (*fhttp.HTTPRunnerResults, error) {
	objs, name, err := LoadgenObjects(p.namespace, p.mesh, p.image, id, p.spec.Pods, p.opts)
	if err != nil {
		return nil, err
	}
	cluster := p.cluster
	state := LoadgenState{Job: name, Pods: p.spec.Pods}
	allow, notes, err := loadgenAllowed(ctx, p)
	if err != nil {
		return nil, err
	}
	objs = append(objs, allow...)
	// The Job and its rules go when the test ends, whatever the end (an
	// apply that failed half way included).
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := cluster.Remove(dctx, objs); err != nil {
			s.log.Warn("the load generator's Job was not deleted", "namespace", p.namespace, "job", name, "err", err)
		}
	}()
	// Not forced: a ServiceAccount of that name that is not meshdock's is
	// a conflict, not taken over.
	if _, err := cluster.Apply(ctx, objs, kube.ApplyOptions{Namespace: p.namespace}); err != nil {
		return nil, err
	}
	for _, n := range notes {
		_ = emit(EventLoadgen, LoadgenState{Job: name, Pods: p.spec.Pods, Message: n})
	}
	_ = emit(EventLoadgen, state)
	wctx, cancel := context.WithTimeout(ctx, time.Duration(p.spec.Duration)+loadgenStart)
	defer cancel()
	last := state
	live := newLiveProgress(cluster, p.namespace, emit)
	ended, err := cluster.WaitJob(wctx, p.namespace, name, bench.LoadgenContainer, p.spec.Pods, func(running []string, done int) {
		state.Running, state.Ended = len(running), done
		if state != last {
			last = state
			_ = emit(EventLoadgen, state)
		}
		live.follow(wctx, running)
	})
	live.stop()
	if err != nil {
		if ctx.Err() == nil && wctx.Err() != nil {
			return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "the load generators did not end within %s of the test's %s (Job %s/%s)", loadgenStart, time.Duration(p.spec.Duration), p.namespace, name)
		}
		return nil, err
	}
	var results []*fhttp.HTTPRunnerResults
	for _, e := range ended {
		log, err := cluster.PodLog(wctx, p.namespace, e.Pod, bench.LoadgenContainer)
		if err != nil {
			return nil, err
		}
		res, perr := bench.ParseResult(log)
		if !e.Succeeded {
			msg := e.Message
			if perr != nil {
				msg += "; " + meshdock.ErrorMessage(perr)
			}
			return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "the load generator's pod %s failed: %s", e.Pod, msg)
		}
		if perr != nil {
			return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "pod %s: %s", e.Pod, meshdock.ErrorMessage(perr))
		}
		results = append(results, res)
	}
	state.Message = fmt.Sprintf("%d results read from the pods' logs", len(results))
	_ = emit(EventLoadgen, state)
	return bench.Merge(results...)
}

// networkPolicies are the NetworkPolicy resource.
var networkPolicies = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}

// loadgenAllowed: in a namespace whose rules allow only the app's paths
// (authz enforce: its default-deny NetworkPolicy is there), the load
// generator gets rules of its own to its target's port, deleted with it.
func loadgenAllowed(ctx context.Context, p *benchPlan) ([]*unstructured.Unstructured, []string, error) {
	if p.target == nil || len(p.target.Target) == 0 {
		return nil, nil, nil
	}
	enforced, err := p.cluster.Exists(ctx, networkPolicies, p.namespace, meshes.DefaultDeny)
	if err != nil || !enforced {
		return nil, nil, err
	}
	c := *p.target
	c.Name, c.Account = bench.LoadgenName, bench.LoadgenName
	c.Labels = map[string]string{"app.kubernetes.io/name": bench.LoadgenName}
	objs, notes := meshes.AllowCaller(p.mesh, p.namespace, c)
	return objs, append([]string{"the namespace allows only the app's paths (authz enforce): the load generator gets rules of its own to its target, deleted with it"}, notes...), nil
}

// LoadgenObjects are the load generators of one test in namespace ns,
// enrolled in mesh: their ServiceAccount and Job, each pod with its share
// of the load. name is the Job's.
func LoadgenObjects(ns, mesh, image, id string, pods int, o bench.Options) (objs []*unstructured.Unstructured, name string, err error) {
	per := bench.PerPod(o, pods)
	if mesh == meshes.Consul {
		per.QuitURL = consulShutdown
	}
	name = bench.LoadgenName + "-" + jobSuffix(id)
	// Consul's and Kuma's proxies read the pod's ServiceAccount token; the
	// others bring their own.
	token := mesh == meshes.Consul || mesh == meshes.Kuma
	objs, err = bench.Job(bench.JobSpec{Name: name, Namespace: ns, Image: image, Pods: pods, Options: per, Benchmark: id, Token: token})
	if err != nil {
		return nil, "", err
	}
	m, err := meshes.Get(mesh)
	if err != nil {
		return nil, "", err
	}
	e, err := m.Enroll(ns, objs)
	if err != nil {
		return nil, "", err
	}
	return e.Objects, name, nil
}

// jobSuffix is a benchmark id as a DNS label's tail: at most 20
// characters of it, lower case.
func jobSuffix(id string) string {
	b := []byte{}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		}
	}
	if len(b) > 20 {
		b = b[len(b)-20:]
	}
	if len(b) == 0 {
		return "run"
	}
	return string(b)
}

// liveProgress follows the running load generators' logs for their
// progress lines and emits their sum each second.
type liveProgress struct {
	cluster kube.Cluster
	ns      string
	emit    Emit

	mu      sync.Mutex
	latest  map[string]bench.Progress
	cancels []context.CancelFunc
	done    chan struct{}
	wg      sync.WaitGroup
}

func newLiveProgress(c kube.Cluster, ns string, emit Emit) *liveProgress {
	l := &liveProgress{cluster: c, ns: ns, emit: emit, latest: map[string]bench.Progress{}, done: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-l.done:
				return
			case <-tick.C:
				l.mu.Lock()
				ps := make([]bench.Progress, 0, len(l.latest))
				for _, p := range l.latest {
					ps = append(ps, p)
				}
				l.mu.Unlock()
				if len(ps) > 0 {
					_ = l.emit(EventProgress, bench.SumProgress(ps))
				}
			}
		}
	}()
	return l
}

// follow starts following the pods not followed yet.
func (l *liveProgress) follow(ctx context.Context, pods []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, pod := range pods {
		if _, ok := l.latest[pod]; ok {
			continue
		}
		l.latest[pod] = bench.Progress{}
		fctx, cancel := context.WithCancel(ctx)
		l.cancels = append(l.cancels, cancel)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			rc, err := l.cluster.FollowLog(fctx, l.ns, pod, bench.LoadgenContainer)
			if err != nil {
				return // progress is a nicety: the result is read at the end
			}
			defer rc.Close()
			sc := bufio.NewScanner(rc)
			for sc.Scan() {
				if p, ok := bench.ParseProgress(sc.Text()); ok {
					l.mu.Lock()
					l.latest[pod] = p
					l.mu.Unlock()
				}
			}
		}()
	}
}

func (l *liveProgress) stop() {
	l.mu.Lock()
	for _, cancel := range l.cancels {
		cancel()
	}
	l.mu.Unlock()
	close(l.done)
	l.wg.Wait()
}
