package convert

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// dropped lists the service keys that have no Kubernetes counterpart (or
// none meshdock may set for the user) and what to tell the user. kompose
// drops them without a word.
var dropped = []struct {
	key string
	set func(types.ServiceConfig) bool
	msg string
}{
	{"network_mode", func(s types.ServiceConfig) bool { return s.NetworkMode != "" },
		"not carried over: every pod has its own network, and services reach each other by Service name"},
	{"sysctls", func(s types.ServiceConfig) bool { return len(s.Sysctls) > 0 },
		"not carried over: most sysctls are unsafe in Kubernetes and need the cluster's permission"},
	{"stop_signal", func(s types.ServiceConfig) bool { return s.StopSignal != "" },
		"not carried over: Kubernetes always sends SIGTERM (set STOPSIGNAL in the image instead)"},
	{"runtime", func(s types.ServiceConfig) bool { return s.Runtime != "" },
		"not carried over: use a RuntimeClass of the cluster"},
	{"platform", func(s types.ServiceConfig) bool { return s.Platform != "" },
		"not carried over: the cluster's nodes decide the platform (use a nodeSelector on kubernetes.io/arch)"},
	{"ulimits", func(s types.ServiceConfig) bool { return len(s.Ulimits) > 0 }, "not carried over: Kubernetes has no per-pod ulimits"},
	{"devices", func(s types.ServiceConfig) bool { return len(s.Devices) > 0 }, "not carried over: devices need a device plugin in Kubernetes"},
	{"gpus", func(s types.ServiceConfig) bool { return len(s.Gpus) > 0 }, "not carried over: request GPUs as a resource of the cluster's device plugin"},
	{"dns", func(s types.ServiceConfig) bool { return len(s.DNS) > 0 || len(s.DNSSearch) > 0 || len(s.DNSOpts) > 0 },
		"not carried over: pods use the cluster's DNS"},
	{"logging", func(s types.ServiceConfig) bool { return s.Logging != nil || s.LogDriver != "" },
		"not carried over: the cluster collects container output"},
	{"security_opt", func(s types.ServiceConfig) bool { return len(s.SecurityOpt) > 0 },
		"not carried over: use the pod's securityContext (seccompProfile, appArmorProfile)"},
	{"pid", func(s types.ServiceConfig) bool { return s.Pid != "" }, "not carried over"},
	{"ipc", func(s types.ServiceConfig) bool { return s.Ipc != "" }, "not carried over"},
	{"uts", func(s types.ServiceConfig) bool { return s.Uts != "" }, "not carried over"},
	{"userns_mode", func(s types.ServiceConfig) bool { return s.UserNSMode != "" }, "not carried over"},
	{"cgroup_parent", func(s types.ServiceConfig) bool { return s.CgroupParent != "" || s.Cgroup != "" }, "not carried over"},
	{"oom_score_adj", func(s types.ServiceConfig) bool { return s.OomScoreAdj != 0 || s.OomKillDisable }, "not carried over"},
	{"memswap_limit", func(s types.ServiceConfig) bool { return s.MemSwapLimit != 0 || s.MemSwappiness != 0 }, "not carried over: Kubernetes manages swap per node"},
	{"shm_size", func(s types.ServiceConfig) bool { return s.ShmSize != 0 }, "not carried over: mount an emptyDir with medium Memory at /dev/shm"},
	{"pids_limit", func(s types.ServiceConfig) bool { return s.PidsLimit != 0 }, "not carried over: the node sets the pid limit"},
	{"blkio_config", func(s types.ServiceConfig) bool { return s.BlkioConfig != nil }, "not carried over"},
	{"cpuset", func(s types.ServiceConfig) bool { return s.CPUSet != "" }, "not carried over: the node's CPU manager pins CPUs"},
	{"cpu_rt_runtime", func(s types.ServiceConfig) bool { return s.CPURTRuntime != 0 || s.CPURTPeriod != 0 }, "not carried over"},
	{"storage_opt", func(s types.ServiceConfig) bool { return len(s.StorageOpt) > 0 }, "not carried over"},
	{"mac_address", func(s types.ServiceConfig) bool { return s.MacAddress != "" }, "not carried over"},
	{"init", func(s types.ServiceConfig) bool { return s.Init != nil && *s.Init }, "not carried over: the image must reap its own children"},
	{"isolation", func(s types.ServiceConfig) bool { return s.Isolation != "" }, "not carried over"},
	{"volumes_from", func(s types.ServiceConfig) bool { return len(s.VolumesFrom) > 0 }, "not carried over: mount the same volumes explicitly"},
	{"external_links", func(s types.ServiceConfig) bool { return len(s.ExternalLinks) > 0 }, "not carried over"},
	{"credential_spec", func(s types.ServiceConfig) bool { return s.CredentialSpec != nil }, "not carried over"},
	{"device_cgroup_rules", func(s types.ServiceConfig) bool { return len(s.DeviceCgroupRules) > 0 }, "not carried over"},
	{"develop", func(s types.ServiceConfig) bool { return s.Develop != nil }, "a docker compose watch setting and does not apply"},
	{"post_start", func(s types.ServiceConfig) bool {
		return len(s.PostStart) > 0 || len(s.PreStop) > 0 || len(s.PreStart) > 0
	},
		"not carried over: use lifecycle hooks of the container"},
	{"provider", func(s types.ServiceConfig) bool { return s.Provider != nil }, "not carried over"},
	{"models", func(s types.ServiceConfig) bool { return len(s.Models) > 0 }, "not carried over"},
	{"annotations", func(s types.ServiceConfig) bool { return len(s.Annotations) > 0 }, "container annotations in Docker; they are set as pod annotations"},
	{"deploy.placement", func(s types.ServiceConfig) bool {
		return s.Deploy != nil && (len(s.Deploy.Placement.Constraints) > 0 || len(s.Deploy.Placement.Preferences) > 0 || s.Deploy.Placement.MaxReplicas > 0)
	}, "swarm placement: constraints on node labels become required node affinity (pods stay Pending unless a node has those labels); node.role, node.hostname and preferences are not carried over"},
	{"deploy.update_config", func(s types.ServiceConfig) bool { return s.Deploy != nil && s.Deploy.UpdateConfig != nil },
		"partly carried over: parallelism and order shape the rolling update, but a Deployment with a volume is recreated instead; delay, monitor and failure_action have no counterpart"},
	{"deploy.resources.limits.pids", func(s types.ServiceConfig) bool {
		return s.Deploy != nil && s.Deploy.Resources.Limits != nil && s.Deploy.Resources.Limits.Pids != 0
	}, "not carried over: the node sets the pid limit"},
	{"deploy.rollback_config", func(s types.ServiceConfig) bool { return s.Deploy != nil && s.Deploy.RollbackConfig != nil },
		"not carried over: use kubectl rollout undo"},
	{"deploy.endpoint_mode", func(s types.ServiceConfig) bool { return s.Deploy != nil && s.Deploy.EndpointMode != "" },
		"not carried over: a Service balances over its pods"},
	{"deploy.resources.reservations.devices", func(s types.ServiceConfig) bool {
		return s.Deploy != nil && s.Deploy.Resources.Reservations != nil && len(s.Deploy.Resources.Reservations.Devices) > 0
	}, "not carried over: request devices as a resource of the cluster's device plugin"},
}

// droppedPass warns about every service key that did not carry over, and
// carries over a few that kompose ignores and that do have a counterpart:
// extra_hosts (hostAliases), pull_policy (imagePullPolicy), scale
// (replicas), annotations.
func droppedPass(s *state) error {
	for _, name := range s.p.ServiceNames() {
		svc := s.service(name)
		for _, d := range dropped {
			if d.set(svc) {
				s.warn(name, d.key, d.msg)
			}
		}
		if svc.NetworkMode != "" && strings.HasPrefix(svc.NetworkMode, "service:") {
			peer := strings.TrimPrefix(svc.NetworkMode, "service:")
			msg := fmt.Sprintf("shares the network of %s in compose; here it is a pod of its own and must reach it by name", peer)
			if len(s.service(peer).Ports) > 0 {
				msg += fmt.Sprintf(", and ports %s publishes reach %s's pod only, not this service", peer, peer)
			}
			s.warn(name, "network_mode", msg)
		}
		for net, cfg := range svc.Networks {
			if cfg != nil && (cfg.Ipv4Address != "" || cfg.Ipv6Address != "") {
				s.warn(name, "networks."+net, "static IP addresses are not carried over: pods get addresses from the cluster")
			}
		}
		w := s.pods[name]
		c := w.container()
		if c == nil {
			continue
		}
		s.extraHosts(name, svc, w.spec)
		s.user(name, svc.User, c)
		switch svc.PullPolicy {
		case types.PullPolicyAlways, "daily", "weekly":
			c.ImagePullPolicy = corev1.PullAlways
		case types.PullPolicyNever:
			c.ImagePullPolicy = corev1.PullNever
		case types.PullPolicyMissing, types.PullPolicyIfNotPresent, types.PullPolicyBuild:
			c.ImagePullPolicy = corev1.PullIfNotPresent
		}
		// kompose turns replicas: 0 (a service kept but not run) into 1.
		switch {
		case svc.Deploy != nil && svc.Deploy.Replicas != nil:
			setReplicas(w, int32(*svc.Deploy.Replicas))
		case svc.Scale != nil:
			setReplicas(w, int32(*svc.Scale))
		}
		s.resources(name, svc, c)
		tidyMemory(c)
		fixStrategy(w)
		if len(svc.Annotations) > 0 {
			if w.tmpl.Annotations == nil {
				w.tmpl.Annotations = map[string]string{}
			}
			for k, v := range svc.Annotations {
				w.tmpl.Annotations[k] = v
			}
		}
	}
	if nets := s.customNetworks(); len(nets) > 0 {
		s.warn("", "networks", fmt.Sprintf("networks %s are not carried over: all pods of a namespace can reach each other (add NetworkPolicies to separate them)", strings.Join(nets, ", ")))
	}
	for name, v := range s.p.Volumes {
		if v.Driver != "" && v.Driver != "local" || len(v.DriverOpts) > 0 {
			s.warn("", "volumes."+name, "driver and driver_opts are not carried over: the claim uses the cluster's default StorageClass")
		}
	}
	return nil
}

// extraHosts carries extra_hosts over as hostAliases; entries whose address
// is not an IP (such as host-gateway) cannot be.
func (s *state) extraHosts(name string, svc types.ServiceConfig, spec *corev1.PodSpec) {
	hosts := slices.Sorted(maps.Keys(svc.ExtraHosts))
	byIP := map[string][]string{}
	var ips []string
	for _, h := range hosts {
		for _, ip := range svc.ExtraHosts[h] {
			if net.ParseIP(ip) == nil {
				s.warn(name, "extra_hosts", fmt.Sprintf("%s=%s is not carried over: only IP addresses can be host aliases", h, ip))
				continue
			}
			if _, ok := byIP[ip]; !ok {
				ips = append(ips, ip)
			}
			byIP[ip] = append(byIP[ip], h)
		}
	}
	sort.Strings(ips)
	for _, ip := range ips {
		spec.HostAliases = append(spec.HostAliases, corev1.HostAlias{IP: ip, Hostnames: byIP[ip]})
	}
}

// user carries over what kompose cannot: `root` is UID 0, and a user given
// by name needs a number in Kubernetes.
func (s *state) user(name, user string, c *corev1.Container) {
	if user == "" || (c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil) {
		return
	}
	u, _, _ := strings.Cut(user, ":")
	if u == "" {
		return // nothing but a group, or unset variables: the image's user
	}
	if u == "root" {
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		c.SecurityContext.RunAsUser = ptr.To(int64(0))
		return
	}
	s.warn(name, "user", fmt.Sprintf("user %q is a name: Kubernetes needs a numeric UID (securityContext.runAsUser), so the image's default user is used", user))
}

// customNetworks lists the networks other than the default one.
func (s *state) customNetworks() []string {
	var out []string
	for name := range s.p.Networks {
		if name != "default" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// resources carries over the service-level limits kompose ignores: `cpus`
// (a CPU limit) and `mem_reservation` (a memory request), where deploy
// resources do not set them already.
func (s *state) resources(name string, svc types.ServiceConfig, c *corev1.Container) {
	if svc.CPUS > 0 {
		if c.Resources.Limits == nil {
			c.Resources.Limits = corev1.ResourceList{}
		}
		if _, ok := c.Resources.Limits[corev1.ResourceCPU]; !ok {
			c.Resources.Limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(float64(svc.CPUS)*1000+0.5), resource.DecimalSI)
		}
	}
	if svc.MemReservation > 0 {
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
			c.Resources.Requests[corev1.ResourceMemory] = *resource.NewQuantity(int64(svc.MemReservation), resource.BinarySI)
		}
	}
	if svc.CPUShares != 0 || svc.CPUQuota != 0 || svc.CPUPeriod != 0 || svc.CPUCount != 0 || svc.CPUPercent != 0 {
		s.warn(name, "cpu_shares", "cpu_shares, cpu_quota, cpu_period, cpu_count and cpu_percent are not carried over: set cpus or deploy.resources instead")
	}
}

// fixStrategy drops a rolling-update setting from a Deployment kompose
// made Recreate (it does for services with volumes), which the API server
// refuses.
func fixStrategy(w *workload) {
	if d, ok := w.obj.(*appsv1.Deployment); ok && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		d.Spec.Strategy.RollingUpdate = nil
	}
}

// tidyMemory writes memory quantities in binary units (512Mi rather than
// kompose's 536870912), as people write them.
func tidyMemory(c *corev1.Container) {
	for _, list := range []corev1.ResourceList{c.Resources.Limits, c.Resources.Requests} {
		if q, ok := list[corev1.ResourceMemory]; ok {
			list[corev1.ResourceMemory] = *resource.NewQuantity(q.Value(), resource.BinarySI)
		}
	}
}

func setReplicas(w *workload, n int32) {
	switch o := w.obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas = ptr.To(n)
	case *appsv1.StatefulSet:
		o.Spec.Replicas = ptr.To(n)
	}
}
