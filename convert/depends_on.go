package convert

import (
	"fmt"
	"maps"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
)

// DefaultWaitImage runs the init containers that wait for dependencies. It
// needs a shell, nslookup and nc.
const DefaultWaitImage = "busybox:1.37"

// dependsOnPass carries `depends_on` over, which kompose drops without a
// word. Kubernetes has no start order, so each dependency becomes an init
// container that waits for it:
//   - service_started: until the dependency's name resolves;
//   - service_healthy: until its Service accepts connections, which needs a
//     ready pod (the readiness probe made from its healthcheck); for a
//     headless Service, until the name resolves, which also needs a ready pod;
//   - service_completed_successfully: a pod cannot wait for a Job without
//     access to the API, so this is a warning.
//
// `required: false` dependencies are not waited for, as in compose.
func dependsOnPass(s *state) error {
	for _, name := range s.p.ServiceNames() {
		w := s.pods[name]
		if w.container() == nil {
			continue
		}
		deps := s.service(name).DependsOn
		keys := slices.Sorted(maps.Keys(deps))
		for _, dep := range keys {
			d := deps[dep]
			key := "depends_on." + dep
			if _, ok := s.p.Services[dep]; !ok {
				s.warn(name, key, fmt.Sprintf("%s is not an enabled service (a profile may leave it out); not waited for", dep))
				continue
			}
			if !d.Required {
				continue
			}
			// links become depends_on with restart: true; only a restart the
			// user wrote is worth a warning.
			if d.Restart && s.p.Has("services", name, "depends_on", dep, "restart") {
				s.warn(name, key, "restart: true is not carried over: Kubernetes does not restart a pod when a dependency restarts")
			}
			script, ok := s.waitScript(name, dep, d)
			if !ok {
				continue
			}
			w.spec.InitContainers = append(w.spec.InitContainers, corev1.Container{
				Name:            dnsName("wait-for-" + s.names[dep]),
				Image:           s.waitImage(),
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{"sh", "-c", script},
			})
		}
	}
	return nil
}

func (s *state) waitImage() string {
	if s.opt.WaitImage != "" {
		return s.opt.WaitImage
	}
	return DefaultWaitImage
}

// waitScript returns the shell loop that waits for dep.
func (s *state) waitScript(service, dep string, d types.ServiceDependency) (string, bool) {
	host := s.names[dep]
	key := "depends_on." + dep
	resolve := fmt.Sprintf("until nslookup %s >/dev/null 2>&1; do echo waiting for %s; sleep 2; done", host, host)
	switch d.Condition {
	case types.ServiceConditionCompletedSuccessfully:
		s.warn(service, key, fmt.Sprintf("%s runs as a Job; Kubernetes cannot make %s wait for it to complete, so both start together", dep, service))
		return "", false
	case types.ServiceConditionHealthy:
		if hc := s.service(dep).HealthCheck; hc == nil || hc.Disable {
			s.warn(service, key, fmt.Sprintf("service_healthy, but %s has no healthcheck: waiting until it is started", dep))
			return resolve, true
		}
		svc := s.kubeService(dep)
		port := int32(0)
		if svc != nil && svc.Spec.ClusterIP != corev1.ClusterIPNone {
			for _, p := range svc.Spec.Ports {
				if p.Protocol == corev1.ProtocolTCP || p.Protocol == "" {
					port = p.Port
					break
				}
			}
		}
		if port == 0 {
			// No TCP port to try: a headless Service's name resolves
			// only to ready pods, which is the wait wanted.
			if svc != nil && svc.Spec.ClusterIP != corev1.ClusterIPNone {
				s.warn(service, key, fmt.Sprintf("service_healthy, but %s offers no TCP port to test: waiting only until its name resolves", dep))
			}
			return resolve, true
		}
		return fmt.Sprintf("until nc -z -w 2 %s %d; do echo waiting for %s to be healthy; sleep 2; done", host, port, host), true
	default:
		return resolve, true
	}
}
