package convert

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// identityPass gives each workload a ServiceAccount of its own, named after
// it, so meshes tell the services apart by identity (Istio and Linkerd
// name workloads by ServiceAccount, Consul expects its service's name) and
// authorization rules can name who may call whom. Compose has no such
// notion: nothing is lost, and the namespace's default account is shared
// by no workload.
func identityPass(s *state) error {
	for _, name := range s.p.ServiceNames() {
		w := s.pods[name]
		if w == nil {
			continue
		}
		k := s.names[name]
		if k == "default" {
			// The namespace's own account: a workload named default gets
			// one of its own all the same.
			k = "default-" + shortHash(name)
		}
		w.spec.ServiceAccountName = k
		w.spec.DeprecatedServiceAccount = ""
		s.add(&corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{Kind: "ServiceAccount", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: k, Labels: map[string]string{komposeLabel: s.names[name]}},
		})
	}
	return nil
}
