package kube

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// How a load generator's pod ended, or why it will not: an image that
// cannot be pulled and a pod that cannot be scheduled are said at once.
func TestPodOutcome(t *testing.T) {
	waiting := func(reason, msg string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "loadgen", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
	}
	ended := func(code int32, reason string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "loadgen", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}}}
	}
	for _, c := range []struct {
		name    string
		pod     corev1.Pod
		done    bool
		ok      bool
		problem string
		msg     string
	}{
		{"image missing", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{waiting("ErrImagePull", `pull "meshdock/meshdock:x": not found`)}}},
			false, false, `container loadgen: ErrImagePull: pull "meshdock/meshdock:x": not found`, ""},
		{"proxy image missing", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{{Name: "istio-proxy",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}}}, false, false, "container istio-proxy: ImagePullBackOff", ""},
		{"unschedulable", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled,
			Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/2 nodes have enough cpu"}}}}, false, false, "unschedulable: 0/2 nodes have enough cpu", ""},
		{"running", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "loadgen",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}, false, false, "", ""},
		{"succeeded, proxy still up", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{ended(0, "Completed")}}}, true, true, "", ""},
		{"failed", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{ended(137, "OOMKilled")}}}, true, false, "", "exit code 137 (OOMKilled)"},
		{"pod succeeded without statuses", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}, true, true, "", ""},
		{"pod failed", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Message: "deadline exceeded"}}, true, false, "", "the pod failed: deadline exceeded"},
	} {
		out, done, problem := podOutcome(&c.pod, "loadgen")
		if done != c.done || out.Succeeded != c.ok || problem != c.problem || !strings.Contains(out.Message, c.msg) {
			t.Errorf("%s: done %v ok %v problem %q message %q", c.name, done, out.Succeeded, problem, out.Message)
		}
	}
}
