package meshdock

import (
	"encoding/json"
	"time"
)

// DeploymentState is where a deployment stands.
type DeploymentState string

// States of a deployment.
const (
	Deploying DeploymentState = "deploying" // an operation is applying it or waiting for it
	Deployed  DeploymentState = "deployed"  // every object applied and every workload ready
	Failed    DeploymentState = "failed"    // the last deploy did not finish (Message says why)
	Deleting  DeploymentState = "deleting"
	Deleted   DeploymentState = "deleted" // its objects are gone (Kept lists the claims that stay)
)

// Deployment is an app deployed into one namespace of one cluster.
type Deployment struct {
	ID        string          `json:"id"`
	AppID     string          `json:"appId"`
	Context   string          `json:"context"`
	Namespace string          `json:"namespace"`
	Options   DeployOptions   `json:"options"`
	State     DeploymentState `json:"state"`
	// Objects is what meshdock applied there (the inventory, kept in the
	// cluster too), with what the last apply did to each.
	Objects   []ObjectState   `json:"objects"`
	Workloads []WorkloadState `json:"workloads"`
	URLs      []URL           `json:"urls"`
	// Kept lists the PersistentVolumeClaims a delete left in place.
	Kept []ObjectRef `json:"kept,omitempty"`
	// LastOperation is the id of the last deploy or delete.
	LastOperation string    `json:"lastOperation,omitempty"`
	Message       string    `json:"message,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// DeployOptions are a deploy's choices.
type DeployOptions struct {
	// Mesh is the service mesh to enrol the app in: none (the default),
	// istio, istio-ambient, linkerd, consul or kuma.
	Mesh string `json:"mesh,omitempty"`
	// Authz is how the app's paths are enforced: off (the default), audit
	// (the mesh's rules report what they would refuse) or enforce
	// (NetworkPolicies and the mesh's rules allow exactly the paths).
	Authz string `json:"authz,omitempty"`
	// ForceConflicts takes over fields another field manager owns;
	// without it such a conflict fails the deploy and names the field.
	ForceConflicts bool `json:"forceConflicts,omitempty"`
	// Timeout bounds the wait for the rollout; zero means the default.
	Timeout Duration `json:"timeout,omitempty"`
	// NoWait applies the objects without waiting for the rollout.
	NoWait bool `json:"noWait,omitempty"`
	// NoBuild skips building the images of build: services.
	NoBuild bool `json:"noBuild,omitempty"`
}

// ObjectRef names one Kubernetes object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// String is "Kind namespace/name", as kubectl names objects in messages.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// ObjectState is one applied object and what the last apply did to it:
// created, configured or unchanged.
type ObjectState struct {
	ObjectRef
	Action string `json:"action"`
}

// WorkloadState is the rollout of one Deployment, StatefulSet, DaemonSet
// or Job.
type WorkloadState struct {
	ObjectRef
	Ready   int32  `json:"ready"`
	Desired int32  `json:"desired"`
	Done    bool   `json:"done"`
	Message string `json:"message,omitempty"`
	// Problems are why its pods are not ready (ImagePullBackOff,
	// CrashLoopBackOff, Unschedulable...), one per reason.
	Problems []PodProblem `json:"problems,omitempty"`
}

// PodProblem is one reason a workload's pods are not ready, with an
// example pod. Pod is empty for a problem of the workload itself (pods it
// could not create); Container is empty for a problem of the whole pod (it
// cannot be scheduled).
type PodProblem struct {
	Pod       string `json:"pod"`
	Container string `json:"container,omitempty"`
	Reason    string `json:"reason"`
	Message   string `json:"message,omitempty"`
}

// String is how messages write a problem: `pod web-5d8 ImagePullBackOff:
// Back-off pulling image "x"`.
func (p PodProblem) String() string {
	s := p.Reason
	if p.Pod != "" {
		s = "pod " + p.Pod + " " + s
	}
	if p.Message != "" {
		s += ": " + p.Message
	}
	return s
}

// URL is where a published port of the app is reached from this machine.
type URL struct {
	Service string `json:"service"`
	Port    int32  `json:"port"`
	URL     string `json:"url,omitempty"`
	// Via is "loadbalancer" (the cluster binds the host's port, as Docker
	// Desktop does) or "port-forward" (held by the server while it runs).
	Via string `json:"via"`
	// Error says why the port cannot be reached, when it cannot.
	Error string `json:"error,omitempty"`
}

// Duration is a time.Duration written as Go writes it ("90s", "5m0s").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalJSON takes only a string: a bare number would be nanoseconds,
// which nobody means.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Errorf(EINVALID, "%.40s is not a duration: write one as a string such as \"90s\" or \"5m\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return Errorf(EINVALID, "%q is not a duration (such as 90s or 5m)", s)
	}
	*d = Duration(v)
	return nil
}
