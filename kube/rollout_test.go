package kube

import (
	"strings"
	"testing"
)

func TestRolloutStatus(t *testing.T) {
	tests := []struct {
		name, doc string
		done      bool
		failed    bool
		inMessage string
	}{
		{"deployment not observed", `{"kind": "Deployment", "metadata": {"generation": 2}, "status": {"observedGeneration": 1}}`,
			false, false, "controller"},
		{"deployment updating", `{"kind": "Deployment", "metadata": {"generation": 1}, "spec": {"replicas": 3}, "status": {"observedGeneration": 1, "updatedReplicas": 1}}`,
			false, false, "1 of 3 replicas updated"},
		{"deployment old replicas", `{"kind": "Deployment", "spec": {"replicas": 2}, "status": {"updatedReplicas": 2, "replicas": 3}}`,
			false, false, "1 old replicas"},
		{"deployment unavailable", `{"kind": "Deployment", "status": {"updatedReplicas": 1, "replicas": 1}}`,
			false, false, "0 of 1 updated replicas available"},
		{"deployment done", `{"kind": "Deployment", "status": {"updatedReplicas": 1, "replicas": 1, "availableReplicas": 1}}`,
			true, false, "1 replicas available"},
		{"deployment scaled to zero", `{"kind": "Deployment", "spec": {"replicas": 0}, "status": {}}`,
			true, false, ""},
		{"deployment deadline", `{"kind": "Deployment", "status": {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "took too long"}]}}`,
			false, true, "took too long"},
		{"statefulset not ready", `{"kind": "StatefulSet", "spec": {"replicas": 2}, "status": {"readyReplicas": 1}}`,
			false, false, "1 of 2 pods ready"},
		{"statefulset old revision", `{"kind": "StatefulSet", "spec": {"replicas": 1}, "status": {"readyReplicas": 1, "updatedReplicas": 0, "currentRevision": "a", "updateRevision": "b"}}`,
			false, false, "revision b"},
		{"statefulset partition", `{"kind": "StatefulSet", "spec": {"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 2}}}, "status": {"readyReplicas": 3, "updatedReplicas": 1}}`,
			true, false, "partitioned"},
		{"statefulset done", `{"kind": "StatefulSet", "spec": {"replicas": 1}, "status": {"readyReplicas": 1, "currentRevision": "b", "updateRevision": "b"}}`,
			true, false, ""},
		{"statefulset on delete", `{"kind": "StatefulSet", "spec": {"updateStrategy": {"type": "OnDelete"}}}`,
			true, false, "OnDelete"},
		{"daemonset updating", `{"kind": "DaemonSet", "status": {"desiredNumberScheduled": 2, "updatedNumberScheduled": 1}}`,
			false, false, "1 of 2 pods updated"},
		{"daemonset done", `{"kind": "DaemonSet", "status": {"desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 2}}`,
			true, false, ""},
		{"job running", `{"kind": "Job", "metadata": {"generation": 1}, "status": {"active": 1}}`,
			false, false, "0 succeeded, 1 active"},
		{"job complete", `{"kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}}`,
			true, false, "complete"},
		{"job failed", `{"kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "too many"}]}}`,
			false, true, "BackoffLimitExceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := statusOf(objects(t, tt.doc)[0])
			if st.Done != tt.done || (err != nil) != tt.failed || !strings.Contains(st.Message, tt.inMessage) {
				t.Errorf("got done=%v err=%v message %q; want done=%v failed=%v message with %q",
					st.Done, err, st.Message, tt.done, tt.failed, tt.inMessage)
			}
		})
	}
}
