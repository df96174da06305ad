package convert

import (
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/meshdock/meshdock/compose"
)

// restartPass carries restart policies over. kompose makes a bare Pod for
// `restart: "no"` and `on-failure` and drops `deploy.replicas`; here such a
// service stays a Deployment (Kubernetes restarts those always: a warning
// says so), unless another service waits for it to complete
// (`service_completed_successfully`): then it is a Job, which is what a
// one-shot task is in Kubernetes.
func restartPass(s *state) error {
	completes := map[string]bool{}
	for _, svc := range s.p.Services {
		for dep, d := range svc.DependsOn {
			if d.Condition == types.ServiceConditionCompletedSuccessfully {
				completes[dep] = true
			}
		}
	}
	for _, name := range s.p.ServiceNames() {
		svc := s.service(name)
		policy, key := restartPolicy(svc)
		policy, _, _ = strings.Cut(policy, ":") // on-failure:N
		w := s.pods[name]
		d, ok := w.objOrNil().(*appsv1.Deployment)
		if !ok {
			if w != nil && (policy == "no" || policy == "on-failure" || policy == "none") {
				s.warn(name, key, fmt.Sprintf("restart policy %q is not carried over: Kubernetes restarts the containers of a %s always", policy, kindOf(w.obj)))
			}
			continue
		}
		switch {
		case completes[name]:
			job := deploymentToJob(d, policy, svc)
			s.replace(d, job)
			s.pods[name] = &workload{obj: job, meta: &metaRef{&job.Labels, &job.Annotations}, spec: &job.Spec.Template.Spec, tmpl: &job.Spec.Template}
			s.warn(name, key, "other services wait for this one to complete, so it runs as a Job")
		case policy == "no" || policy == "on-failure" || policy == "none":
			s.warn(name, key, fmt.Sprintf("restart policy %q is not carried over: Kubernetes restarts the containers of a Deployment always", policy))
		}
	}
	return nil
}

// restartPolicy returns the effective compose restart policy and the key it
// came from.
func restartPolicy(svc types.ServiceConfig) (string, string) {
	if svc.Deploy != nil && svc.Deploy.RestartPolicy != nil && svc.Deploy.RestartPolicy.Condition != "" {
		return svc.Deploy.RestartPolicy.Condition, "deploy.restart_policy"
	}
	if svc.Restart != "" {
		return svc.Restart, "restart"
	}
	return "always", ""
}

func deploymentToJob(d *appsv1.Deployment, policy string, svc types.ServiceConfig) *batchv1.Job {
	tmpl := *d.Spec.Template.DeepCopy()
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	if policy == "no" || policy == "none" {
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	}
	job := &batchv1.Job{ObjectMeta: *d.ObjectMeta.DeepCopy(), Spec: batchv1.JobSpec{Template: tmpl}}
	job.Kind, job.APIVersion = "Job", "batch/v1"
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	job.Spec.Completions, job.Spec.Parallelism = ptr.To(replicas), ptr.To(replicas)
	backoff := int32(0)
	if policy == "on-failure" {
		backoff = 6 // Kubernetes' default
		// validate keeps N of on-failure:N within int32.
		if n, ok := compose.OnFailureRetries(svc.Restart); ok {
			backoff = int32(n)
		}
		if svc.Deploy != nil && svc.Deploy.RestartPolicy != nil && svc.Deploy.RestartPolicy.MaxAttempts != nil {
			backoff = int32(*svc.Deploy.RestartPolicy.MaxAttempts)
		}
	}
	job.Spec.BackoffLimit = ptr.To(backoff)
	return job
}

func kindOf(o runtime.Object) string {
	switch o.(type) {
	case *appsv1.DaemonSet:
		return "DaemonSet"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	}
	return "workload"
}

func (w *workload) objOrNil() runtime.Object {
	if w == nil {
		return nil
	}
	return w.obj
}

// replace swaps one object of the output for another in place.
func (s *state) replace(old, repl runtime.Object) {
	for i, o := range s.objs {
		if o == old {
			s.objs[i] = repl
			return
		}
	}
}
