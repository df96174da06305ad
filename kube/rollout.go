package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meshdock/meshdock"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DefaultRolloutInterval is how often WaitRollout reads each object. A
// rollout on a simulated or small cluster completes in about 0.1 s; Helm's
// 2 s poll would make waiting the slowest part of a deploy.
const DefaultRolloutInterval = 100 * time.Millisecond

// RolloutOptions tune WaitRollout.
type RolloutOptions struct {
	// Interval between reads; zero means DefaultRolloutInterval.
	Interval time.Duration
	// Progress, if set, is called whenever an object's status message
	// changes, and once when it is done.
	Progress func(RolloutStatus)
}

// RolloutStatus is where one object's rollout stands.
type RolloutStatus struct {
	Ref     Ref
	Done    bool
	Message string
}

// errRolloutFailed marks a rollout that will not complete by waiting longer
// (a Deployment past its progress deadline, a failed Job).
var errRolloutFailed = errors.New("rollout failed")

// WaitRollout waits until every Deployment, StatefulSet, DaemonSet and Job
// among refs has rolled out (Jobs: completed), reading each every interval
// until ctx ends. Other kinds are skipped. It fails early, with code
// conflict and an *ObjectError, when a rollout cannot complete (a Deployment
// past its progress deadline, a failed Job); when ctx ends, the error names
// what it was still waiting for and why.
func (c Cluster) WaitRollout(ctx context.Context, refs []Ref, opts RolloutOptions) error {
	if c.conn == nil {
		return ErrNoCluster
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultRolloutInterval
	}
	// An ordered list, so progress comes in the order the caller gave.
	type waiting struct {
		ref  Ref
		last string
	}
	var pending []*waiting
	seen := map[Ref]bool{}
	for _, r := range refs {
		if rollsOut(r) && !seen[r] {
			seen[r] = true
			pending = append(pending, &waiting{ref: r, last: "waiting for the first read"})
		}
	}
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		left := make([]*waiting, 0, len(pending))
		for i, w := range pending {
			if expired(ctx) {
				// Keep the last status each object had, for the error
				// message: reads past the deadline fail for that reason alone.
				left = append(left, pending[i:]...)
				break
			}
			st, err := c.conn.rolloutStatus(ctx, w.ref)
			if expired(ctx) {
				left = append(left, pending[i:]...)
				break
			}
			if err != nil {
				return meshdock.Wrap(meshdock.ECONFLICT, &ObjectError{Ref: w.ref, Err: err}, "rollout of %s failed: %s", w.ref, st.Message)
			}
			if st.Message != w.last || st.Done {
				w.last = st.Message
				report(opts, st)
			}
			if !st.Done {
				left = append(left, w)
			}
		}
		pending = left
		if len(pending) == 0 {
			return nil
		}
		if expired(ctx) {
			<-ctx.Done()
		}
		select {
		case <-ctx.Done():
			still := make([]string, len(pending))
			for i, w := range pending {
				still[i] = fmt.Sprintf("%s (%s)", w.ref, w.last)
			}
			code := meshdock.EUNAVAILABLE
			if errors.Is(ctx.Err(), context.Canceled) {
				code = meshdock.ECANCELED
			}
			return meshdock.Wrap(code, ctx.Err(), "rollout not done: %v; still waiting for %s", ctx.Err(), strings.Join(still, ", "))
		case <-tick.C:
		}
	}
}

// rolloutStatus reads one object and tells where its rollout stands. An
// object that cannot be read (not created yet, a transient failure) is
// waited for; the error is only for a rollout that will not complete.
func (c *conn) rolloutStatus(ctx context.Context, r Ref) (RolloutStatus, error) {
	obj, err := c.get(ctx, r)
	switch {
	case apierrors.IsNotFound(err):
		return RolloutStatus{Ref: r, Message: "not found yet"}, nil
	case err != nil:
		return RolloutStatus{Ref: r, Message: "cannot read: " + err.Error()}, nil
	}
	st, err := statusOf(obj)
	st.Ref = r
	return st, err
}

// expired reports whether ctx is over, or its deadline has passed even if its
// timer has not fired yet (client-go's rate limiter already refuses then).
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

func report(opts RolloutOptions, st RolloutStatus) {
	if opts.Progress != nil {
		opts.Progress(st)
	}
}

func rollsOut(r Ref) bool {
	switch r.GroupKind().String() {
	case "Deployment.apps", "StatefulSet.apps", "DaemonSet.apps", "Job.batch":
		return true
	}
	return false
}

func (c *conn) get(ctx context.Context, r Ref) (*unstructured.Unstructured, error) {
	m, err := c.mapping(r.GroupVersionKind)
	if err != nil {
		return nil, err
	}
	if r.Namespace == "" {
		return c.dynamic.Resource(m.Resource).Get(ctx, r.Name, metav1.GetOptions{})
	}
	return c.dynamic.Resource(m.Resource).Namespace(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
}

// statusOf reads an object's status the way `kubectl rollout status` does,
// and Jobs by their conditions. An error means it will not complete.
func statusOf(obj *unstructured.Unstructured) (RolloutStatus, error) {
	o := obj.Object
	i := func(path ...string) int64 {
		v, _ := number(o, path...)
		return v
	}
	generation, observed := i("metadata", "generation"), i("status", "observedGeneration")
	if obj.GetKind() != "Job" && observed < generation {
		return RolloutStatus{Message: "waiting for the controller to see the new spec"}, nil
	}
	replicas := int64(1)
	if v, ok := number(o, "spec", "replicas"); ok {
		replicas = v
	}
	switch obj.GetKind() {
	case "Deployment":
		if c := condition(o, "Progressing"); c != nil && c["reason"] == "ProgressDeadlineExceeded" {
			return RolloutStatus{Message: fmt.Sprint("progress deadline exceeded: ", c["message"])}, errRolloutFailed
		}
		updated, current, available := i("status", "updatedReplicas"), i("status", "replicas"), i("status", "availableReplicas")
		switch {
		case updated < replicas:
			return RolloutStatus{Message: fmt.Sprintf("%d of %d replicas updated", updated, replicas)}, nil
		case current > updated:
			return RolloutStatus{Message: fmt.Sprintf("%d old replicas pending termination", current-updated)}, nil
		case available < updated:
			return RolloutStatus{Message: fmt.Sprintf("%d of %d updated replicas available", available, updated)}, nil
		}
		return RolloutStatus{Done: true, Message: fmt.Sprintf("%d replicas available", available)}, nil
	case "StatefulSet":
		if s, _, _ := unstructured.NestedString(o, "spec", "updateStrategy", "type"); s == "OnDelete" {
			return RolloutStatus{Done: true, Message: "OnDelete update strategy: not tracked"}, nil
		}
		ready, updated := i("status", "readyReplicas"), i("status", "updatedReplicas")
		if ready < replicas {
			return RolloutStatus{Message: fmt.Sprintf("%d of %d pods ready", ready, replicas)}, nil
		}
		if partition, ok := number(o, "spec", "updateStrategy", "rollingUpdate", "partition"); ok && partition > 0 {
			if updated < replicas-partition {
				return RolloutStatus{Message: fmt.Sprintf("%d of %d pods updated (partition %d)", updated, replicas-partition, partition)}, nil
			}
			return RolloutStatus{Done: true, Message: fmt.Sprintf("partitioned rollout: %d pods updated", updated)}, nil
		}
		cur, _, _ := unstructured.NestedString(o, "status", "currentRevision")
		upd, _, _ := unstructured.NestedString(o, "status", "updateRevision")
		if cur != upd {
			return RolloutStatus{Message: fmt.Sprintf("%d of %d pods updated to revision %s", updated, replicas, upd)}, nil
		}
		return RolloutStatus{Done: true, Message: fmt.Sprintf("%d pods ready", ready)}, nil
	case "DaemonSet":
		if s, _, _ := unstructured.NestedString(o, "spec", "updateStrategy", "type"); s == "OnDelete" {
			return RolloutStatus{Done: true, Message: "OnDelete update strategy: not tracked"}, nil
		}
		desired, updated, available := i("status", "desiredNumberScheduled"), i("status", "updatedNumberScheduled"), i("status", "numberAvailable")
		switch {
		case updated < desired:
			return RolloutStatus{Message: fmt.Sprintf("%d of %d pods updated", updated, desired)}, nil
		case available < desired:
			return RolloutStatus{Message: fmt.Sprintf("%d of %d updated pods available", available, desired)}, nil
		}
		return RolloutStatus{Done: true, Message: fmt.Sprintf("%d pods available", available)}, nil
	case "Job":
		if c := condition(o, "Failed"); c != nil && c["status"] == "True" {
			return RolloutStatus{Message: fmt.Sprint(c["reason"], ": ", c["message"])}, errRolloutFailed
		}
		if c := condition(o, "Complete"); c != nil && c["status"] == "True" {
			return RolloutStatus{Done: true, Message: "complete"}, nil
		}
		return RolloutStatus{Message: fmt.Sprintf("%d succeeded, %d active", i("status", "succeeded"), i("status", "active"))}, nil
	}
	return RolloutStatus{Done: true}, nil
}

// number reads an integer field. Objects from the API server hold int64;
// objects decoded as plain JSON elsewhere hold float64.
func number(o map[string]any, path ...string) (int64, bool) {
	v, ok, _ := unstructured.NestedFieldNoCopy(o, path...)
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		return int64(n), true
	}
	return 0, false
}

func condition(o map[string]any, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(o, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}
