package kube

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// RolloutStatus is where one object's rollout stands, as statusOf reads
// it.
type RolloutStatus struct {
	Ref     Ref
	Done    bool
	Message string
}

// errRolloutFailed marks a rollout that will not complete by waiting longer
// (a Deployment past its progress deadline, a failed Job).
var errRolloutFailed = errors.New("rollout failed")

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
