package convert

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	units "github.com/docker/go-units"
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
	{"attach", func(s types.ServiceConfig) bool { return s.Attach != nil },
		"has no effect in Kubernetes: it only chooses whose output docker compose up shows (kubectl logs shows any container's)"},
	{"pull_refresh_after", func(s types.ServiceConfig) bool { return s.PullRefreshAfter != "" },
		"has no effect in Kubernetes: the kubelet pulls as imagePullPolicy says, not after a time"},
	{"umask", func(s types.ServiceConfig) bool { return s.Umask != nil },
		"not carried over: Kubernetes has no umask setting (set it in the image's entrypoint)"},
	{"use_api_socket", func(s types.ServiceConfig) bool { return s.UseAPISocket },
		"not carried over: the Docker API socket and the user's Docker credentials are not available in the cluster"},
	{"stop_signal", func(s types.ServiceConfig) bool { return s.StopSignal != "" },
		"not carried over: Kubernetes always sends SIGTERM (set STOPSIGNAL in the image instead)"},
	{"runtime", func(s types.ServiceConfig) bool { return s.Runtime != "" },
		"not carried over: use a RuntimeClass of the cluster (runtimeClassName)"},
	{"ulimits", func(s types.ServiceConfig) bool { return len(s.Ulimits) > 0 },
		"not carried over: Kubernetes has no per-pod ulimits; the container runtime's defaults apply"},
	{"devices", func(s types.ServiceConfig) bool { return len(s.Devices) > 0 },
		"not carried over: devices need a device plugin in Kubernetes"},
	{"device_cgroup_rules", func(s types.ServiceConfig) bool { return len(s.DeviceCgroupRules) > 0 },
		"not carried over: device access is granted by a device plugin in Kubernetes"},
	{"gpus", func(s types.ServiceConfig) bool { return len(s.Gpus) > 0 },
		"not carried over: request GPUs as a resource of the cluster's device plugin (nvidia.com/gpu)"},
	{"logging", func(s types.ServiceConfig) bool { return s.Logging != nil || s.LogDriver != "" },
		"not carried over: the cluster collects container output"},
	{"uts", func(s types.ServiceConfig) bool { return s.Uts != "" },
		"not carried over: a pod shares the node's host name only with hostNetwork"},
	{"userns_mode", func(s types.ServiceConfig) bool { return s.UserNSMode != "" },
		"not carried over: user namespaces are chosen with hostUsers, which meshdock leaves to the cluster"},
	{"cgroup", func(s types.ServiceConfig) bool { return s.Cgroup != "" },
		"not carried over: the kubelet chooses each container's cgroup namespace"},
	{"cgroup_parent", func(s types.ServiceConfig) bool { return s.CgroupParent != "" },
		"not carried over: the kubelet places pods in its own cgroups"},
	{"oom_score_adj", func(s types.ServiceConfig) bool { return s.OomScoreAdj != 0 },
		"not carried over: the kubelet sets it from the pod's QoS class (requests equal to limits rank it last)"},
	{"oom_kill_disable", func(s types.ServiceConfig) bool { return s.OomKillDisable },
		"not carried over: Kubernetes always kills a container over its memory limit"},
	{"memswap_limit", func(s types.ServiceConfig) bool { return s.MemSwapLimit != 0 },
		"not carried over: Kubernetes manages swap per node"},
	{"mem_swappiness", func(s types.ServiceConfig) bool { return s.MemSwappiness != 0 },
		"not carried over: Kubernetes manages swap per node"},
	{"pids_limit", func(s types.ServiceConfig) bool { return s.PidsLimit != 0 },
		"not carried over: the node sets the pid limit"},
	{"blkio_config", func(s types.ServiceConfig) bool { return s.BlkioConfig != nil },
		"not carried over: Kubernetes has no block I/O limits"},
	{"cpuset", func(s types.ServiceConfig) bool { return s.CPUSet != "" },
		"not carried over: the node's CPU manager pins CPUs"},
	{"cpu_shares", func(s types.ServiceConfig) bool { return s.CPUShares != 0 },
		"not carried over: Kubernetes derives shares from the CPU request (set cpus or deploy.resources)"},
	{"cpu_quota", func(s types.ServiceConfig) bool { return s.CPUQuota != 0 },
		"not carried over: Kubernetes derives the quota from the CPU limit (set cpus or deploy.resources)"},
	{"cpu_period", func(s types.ServiceConfig) bool { return s.CPUPeriod != 0 },
		"not carried over: the kubelet sets the CFS period for the node"},
	{"cpu_count", func(s types.ServiceConfig) bool { return s.CPUCount != 0 },
		"not carried over: a Windows setting; use cpus or deploy.resources"},
	{"cpu_percent", func(s types.ServiceConfig) bool { return s.CPUPercent != 0 },
		"not carried over: a Windows setting; use cpus or deploy.resources"},
	{"cpu_rt_runtime", func(s types.ServiceConfig) bool { return s.CPURTRuntime != 0 },
		"not carried over: Kubernetes has no real-time CPU scheduling"},
	{"cpu_rt_period", func(s types.ServiceConfig) bool { return s.CPURTPeriod != 0 },
		"not carried over: Kubernetes has no real-time CPU scheduling"},
	{"mac_address", func(s types.ServiceConfig) bool { return s.MacAddress != "" },
		"not carried over: the cluster's network gives pods their addresses"},
	{"init", func(s types.ServiceConfig) bool { return s.Init != nil && *s.Init },
		"not carried over: the image must reap its own children (or set shareProcessNamespace)"},
	{"isolation", func(s types.ServiceConfig) bool { return s.Isolation != "" },
		"not carried over: a Windows container setting with no Kubernetes counterpart"},
	{"volumes_from", func(s types.ServiceConfig) bool { return len(s.VolumesFrom) > 0 },
		"not carried over: mount the same volumes explicitly"},
	{"external_links", func(s types.ServiceConfig) bool { return len(s.ExternalLinks) > 0 },
		"not carried over: containers outside the app are not in the cluster (use an ExternalName Service)"},
	{"credential_spec", func(s types.ServiceConfig) bool { return s.CredentialSpec != nil },
		"not carried over: Windows gMSA credentials are set with windowsOptions in Kubernetes"},
	{"develop", func(s types.ServiceConfig) bool { return s.Develop != nil },
		"has no effect in Kubernetes: a docker compose watch setting"},
	{"provider", func(s types.ServiceConfig) bool { return s.Provider != nil },
		"not carried over: a provider service is run by a docker compose plugin, not as a container"},
	{"models", func(s types.ServiceConfig) bool { return len(s.Models) > 0 },
		"not carried over: Docker Model Runner is not available in the cluster, so no model endpoint variables are set"},
	{"annotations", func(s types.ServiceConfig) bool { return len(s.Annotations) > 0 },
		"container annotations in Docker; they are set as pod annotations"},
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
		if strings.HasPrefix(svc.NetworkMode, "service:") {
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
		s.cpuRequest(name, c)
		tidyMemory(c)
		fixStrategy(w)
	}
	s.networkIsolation()
	s.unusedDefinitions()
	if nets := s.customNetworks(); len(nets) > 0 {
		s.warn("", "networks", fmt.Sprintf("networks %s are carried over only by authorization (deploy with authz enforce: NetworkPolicies allow exactly the app's paths); without it all pods of a namespace can reach each other", strings.Join(nets, ", ")))
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
	if _, g, _ := strings.Cut(user, ":"); g != "" {
		if _, err := strconv.ParseInt(g, 10, 64); err != nil {
			s.warn(name, "user", fmt.Sprintf("group %q is a name: Kubernetes needs a numeric GID (securityContext.runAsGroup), so the image's group is used", g))
		}
	}
	if user == "" || (c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil) {
		return
	}
	u, _, _ := strings.Cut(user, ":")
	if u == "" {
		return // nothing but a group, or unset variables: the image's user
	}
	if _, err := strconv.ParseInt(u, 10, 64); err == nil {
		return // a number: carried over, or out of range and said so
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
	for _, k := range slices.Sorted(maps.Keys(svc.StorageOpt)) {
		v := svc.StorageOpt[k]
		n, err := units.RAMInBytes(v)
		if k != "size" || err != nil || n <= 0 {
			s.warn(name, "storage_opt", fmt.Sprintf("%s=%s is not carried over: only size has a counterpart (an ephemeral-storage limit)", k, v))
			continue
		}
		if c.Resources.Limits == nil {
			c.Resources.Limits = corev1.ResourceList{}
		}
		c.Resources.Limits[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(n, resource.BinarySI)
		s.warn(name, "storage_opt", fmt.Sprintf("size %s became an ephemeral-storage limit: in Kubernetes the container's logs count too, and a pod over it is evicted rather than refused writes", v))
	}
	if svc.MemReservation > 0 {
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
			c.Resources.Requests[corev1.ResourceMemory] = *resource.NewQuantity(int64(svc.MemReservation), resource.BinarySI)
		}
	}
}

// cpuRequest lowers a CPU reservation over the CPU limit to the limit:
// Docker takes it (a reservation only weighs CPU time), the API server
// refuses the pod.
func (s *state) cpuRequest(name string, c *corev1.Container) {
	req, ok := c.Resources.Requests[corev1.ResourceCPU]
	lim, limited := c.Resources.Limits[corev1.ResourceCPU]
	if ok && limited && req.Cmp(lim) > 0 {
		c.Resources.Requests[corev1.ResourceCPU] = lim
		s.warn(name, "deploy.resources.reservations.cpus", fmt.Sprintf("%s is more than the CPU limit %s: Kubernetes takes no request over its limit, so it is %s", req.String(), lim.String(), lim.String()))
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

// networkIsolation warns, for each service that lists its networks, about
// the services compose keeps it from reaching (no common network): in one
// namespace every pod reaches every other.
func (s *state) networkIsolation() {
	nets := map[string][]string{}
	for _, name := range s.p.ServiceNames() {
		svc := s.service(name)
		if svc.NetworkMode != "" {
			continue
		}
		if len(svc.Networks) == 0 {
			nets[name] = []string{"default"}
			continue
		}
		nets[name] = slices.Sorted(maps.Keys(svc.Networks))
	}
	for _, name := range s.p.ServiceNames() {
		if nets[name] == nil || !s.p.Has("services", name, "networks") {
			continue // compose put it on the default network
		}
		var apart []string
		for _, other := range s.p.ServiceNames() {
			if other != name && nets[other] != nil && !slices.ContainsFunc(nets[other], func(n string) bool { return slices.Contains(nets[name], n) }) {
				apart = append(apart, other)
			}
		}
		if len(apart) == 0 {
			continue
		}
		if len(apart) > 5 {
			apart = append(apart[:5], fmt.Sprintf("%d more", len(apart)-5))
		}
		s.warn(name, "networks", fmt.Sprintf("%s: in compose this service shares no network with %s; here that isolation holds only with authz enforce (NetworkPolicies), else all pods of the namespace reach each other", strings.Join(nets[name], ", "), strings.Join(apart, ", ")))
	}
}

// unusedDefinitions warns about top-level volumes, configs, secrets and
// models no service uses, and about the keys that have no effect: version
// and extension (x-) keys.
func (s *state) unusedDefinitions() {
	used := map[string]map[string]bool{"volumes": {}, "configs": {}, "secrets": {}}
	for _, name := range s.p.ServiceNames() {
		svc := s.service(name)
		for _, v := range svc.Volumes {
			used["volumes"][v.Source] = true
		}
		for _, c := range svc.Configs {
			used["configs"][c.Source] = true
		}
		for _, c := range svc.Secrets {
			used["secrets"][c.Source] = true
		}
	}
	for kind, names := range map[string][]string{
		"volumes": slices.Collect(maps.Keys(s.p.Volumes)),
		"configs": slices.Collect(maps.Keys(s.p.Configs)),
		"secrets": slices.Collect(maps.Keys(s.p.Secrets)),
	} {
		for _, n := range names {
			if !used[kind][n] {
				s.warn("", kind+"."+n, "no service uses it: nothing is made of it")
			}
		}
	}
	for n := range s.p.Models {
		s.warn("", "models."+n, "not carried over: Docker Model Runner is not available in the cluster")
	}
	if s.p.Has("version") {
		s.warn("", "version", "has no effect: the compose specification made it obsolete")
	}
	for _, k := range slices.Sorted(maps.Keys(s.p.Extensions)) {
		s.warn("", k, "extension key: no effect on the manifests (anchors defined in it apply where they are merged)")
	}
}
