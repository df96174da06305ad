package convert

import (
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
)

// podPass carries over the service keys that shape the pod and that
// kompose drops: dns, dns_search and dns_opt (dnsConfig), shm_size (a
// memory emptyDir at /dev/shm), platform (a nodeSelector), the host's
// namespaces (network_mode, pid and ipc: host), sysctls of Kubernetes' safe
// set, security_opt and group_add.
func podPass(s *state) error {
	s.eachContainer(func(name string, svc types.ServiceConfig, w *workload, c *corev1.Container) {
		s.dnsConfig(name, svc, w.spec)
		s.shm(name, svc, w.spec, c)
		s.platform(name, svc, w.spec)
		s.hostNamespaces(name, svc, w.spec)
		s.sysctls(name, svc, w.spec)
		s.securityOpts(name, svc, c)
		s.groups(name, svc, w.spec)
	})
	return nil
}

// dnsConfig carries dns, dns_search and dns_opt over. Servers replace the
// cluster's DNS only when given (dnsPolicy None), as they do in Docker;
// search domains and options alone are added to the cluster's.
func (s *state) dnsConfig(name string, svc types.ServiceConfig, spec *corev1.PodSpec) {
	if len(svc.DNS) == 0 && len(svc.DNSSearch) == 0 && len(svc.DNSOpts) == 0 {
		return
	}
	nonEmpty := func(l []string) []string {
		return slices.DeleteFunc(slices.Clone(l), func(v string) bool { return strings.TrimSpace(v) == "" })
	}
	// An empty entry (dns_search: "") asks for none.
	cfg := &corev1.PodDNSConfig{}
	for _, ip := range nonEmpty(svc.DNS) {
		if net.ParseIP(strings.TrimSpace(ip)) == nil {
			s.warn(name, "dns", fmt.Sprintf("%q is not an IP address: left out (a pod's name servers are addresses)", ip))
			continue
		}
		cfg.Nameservers = append(cfg.Nameservers, strings.TrimSpace(ip))
	}
	for _, d := range nonEmpty(svc.DNSSearch) {
		d = strings.ToLower(strings.TrimSpace(d))
		if len(validation.IsDNS1123Subdomain(strings.TrimSuffix(d, "."))) > 0 {
			s.warn(name, "dns_search", fmt.Sprintf("%q is not a DNS domain: left out", d))
			continue
		}
		cfg.Searches = append(cfg.Searches, d)
	}
	for _, o := range nonEmpty(svc.DNSOpts) {
		k, v, ok := strings.Cut(o, ":")
		opt := corev1.PodDNSConfigOption{Name: strings.TrimSpace(k)}
		if opt.Name == "" {
			s.warn(name, "dns_opt", fmt.Sprintf("%q has no option name: left out", o))
			continue
		}
		if ok {
			opt.Value = ptr.To(strings.TrimSpace(v))
		}
		cfg.Options = append(cfg.Options, opt)
	}
	if len(cfg.Nameservers) > 3 {
		s.warn(name, "dns", fmt.Sprintf("%d servers: Kubernetes takes at most 3, so %s are left out", len(cfg.Nameservers), strings.Join(cfg.Nameservers[3:], ", ")))
		cfg.Nameservers = cfg.Nameservers[:3]
	}
	if len(cfg.Searches) > 32 {
		s.warn(name, "dns_search", fmt.Sprintf("%d search domains: Kubernetes takes at most 32, the rest are left out", len(cfg.Searches)))
		cfg.Searches = cfg.Searches[:32]
	}
	if len(cfg.Nameservers)+len(cfg.Searches)+len(cfg.Options) == 0 {
		return // every entry was left out
	}
	spec.DNSConfig = cfg
	if len(cfg.Nameservers) > 0 {
		spec.DNSPolicy = corev1.DNSNone
		s.warn(name, "dns", "the pod uses only these servers (dnsPolicy None), as in Docker: Service names of the cluster do not resolve through them")
	}
}

// shm carries shm_size over as a memory-backed emptyDir at /dev/shm.
func (s *state) shm(name string, svc types.ServiceConfig, spec *corev1.PodSpec, c *corev1.Container) {
	if svc.ShmSize <= 0 {
		return
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/dev/shm" {
			s.warn(name, "shm_size", "not carried over: a volume is already mounted at /dev/shm")
			return
		}
	}
	vol := "dshm"
	for slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == vol }) {
		vol += "-shm"
	}
	size := resource.NewQuantity(int64(svc.ShmSize), resource.BinarySI)
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: size}}})
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: "/dev/shm"})
}

// platform carries platform over as a nodeSelector on the standard node
// labels kubernetes.io/os and kubernetes.io/arch.
func (s *state) platform(name string, svc types.ServiceConfig, spec *corev1.PodSpec) {
	if svc.Platform == "" {
		return
	}
	parts := strings.Split(strings.ToLower(svc.Platform), "/")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" || len(parts) > 3 || !validLabelValue(parts[0]) || !validLabelValue(parts[1]) {
		s.warn(name, "platform", fmt.Sprintf("%q is not an os/arch[/variant] platform: not carried over", svc.Platform))
		return
	}
	if spec.NodeSelector == nil {
		spec.NodeSelector = map[string]string{}
	}
	spec.NodeSelector["kubernetes.io/os"] = parts[0]
	spec.NodeSelector["kubernetes.io/arch"] = parts[1]
	if len(parts) == 3 {
		s.warn(name, "platform", fmt.Sprintf("variant %s is not carried over: nodes are chosen by os and arch only", parts[2]))
	}
}

// hostNamespaces carries network_mode, pid and ipc set to host over, with
// a warning that says what that grants; other modes have no counterpart.
func (s *state) hostNamespaces(name string, svc types.ServiceConfig, spec *corev1.PodSpec) {
	switch mode := svc.NetworkMode; {
	case mode == "host":
		spec.HostNetwork = true
		spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
		if spec.DNSConfig != nil && len(spec.DNSConfig.Nameservers) > 0 {
			spec.DNSPolicy = corev1.DNSNone
		}
		s.warn(name, "network_mode", "host: the pod uses the node's network (hostNetwork), so its ports are the node's and it sees all of the node's traffic; a service mesh cannot enrol it")
	case mode == "none":
		s.warn(name, "network_mode", "none: not carried over: a pod always has a network")
	case strings.HasPrefix(mode, "container:"):
		s.warn(name, "network_mode", fmt.Sprintf("%s: not carried over: pods cannot share the network of a container outside them", mode))
	case strings.HasPrefix(mode, "service:"), mode == "", mode == "bridge", mode == "default":
		// service: is explained with the services it names (dropped.go).
	default:
		s.warn(name, "network_mode", fmt.Sprintf("%s: not carried over: every pod has its own network, and services reach each other by Service name", mode))
	}
	switch svc.Pid {
	case "":
	case "host":
		spec.HostPID = true
		s.warn(name, "pid", "host: the pod sees and can signal every process of the node (hostPID)")
	default:
		s.warn(name, "pid", fmt.Sprintf("%s: not carried over: a pod's containers cannot join another container's process namespace", svc.Pid))
	}
	switch svc.Ipc {
	case "", "private", "shareable":
		// A pod's containers share IPC already; none share it with others.
	case "host":
		spec.HostIPC = true
		s.warn(name, "ipc", "host: the pod shares the node's IPC namespace (hostIPC), including its shared memory")
	default:
		s.warn(name, "ipc", fmt.Sprintf("%s: not carried over: pods cannot share IPC with containers outside them", svc.Ipc))
	}
}

// safeSysctls are the sysctls Kubernetes allows in every pod (the kubelet's
// safe set); others need the cluster's --allowed-unsafe-sysctls.
var safeSysctls = map[string]bool{
	"kernel.shm_rmid_forced":              true,
	"net.ipv4.ip_local_port_range":        true,
	"net.ipv4.ip_local_reserved_ports":    true,
	"net.ipv4.tcp_syncookies":             true,
	"net.ipv4.ping_group_range":           true,
	"net.ipv4.ip_unprivileged_port_start": true,
	"net.ipv4.tcp_keepalive_time":         true,
	"net.ipv4.tcp_fin_timeout":            true,
	"net.ipv4.tcp_keepalive_intvl":        true,
	"net.ipv4.tcp_keepalive_probes":       true,
	"net.ipv4.tcp_rmem":                   true,
	"net.ipv4.tcp_wmem":                   true,
}

// sysctls carries over the sysctls of Kubernetes' safe set; the others
// would keep the pod from starting on a cluster that does not allow them.
func (s *state) sysctls(name string, svc types.ServiceConfig, spec *corev1.PodSpec) {
	var unsafe, host []string
	for _, k := range slices.Sorted(maps.Keys(svc.Sysctls)) {
		if !safeSysctls[k] {
			unsafe = append(unsafe, k)
			continue
		}
		// Under the node's network or IPC, their sysctls would change the
		// node's.
		if (spec.HostNetwork && strings.HasPrefix(k, "net.")) || (spec.HostIPC && strings.HasPrefix(k, "kernel.")) {
			host = append(host, k)
			continue
		}
		if spec.SecurityContext == nil {
			spec.SecurityContext = &corev1.PodSecurityContext{}
		}
		spec.SecurityContext.Sysctls = append(spec.SecurityContext.Sysctls, corev1.Sysctl{Name: k, Value: svc.Sysctls[k]})
	}
	if len(unsafe) > 0 {
		s.warn(name, "sysctls", fmt.Sprintf("%s not carried over: outside Kubernetes' safe set, a pod that sets them does not start unless the cluster allows them", strings.Join(unsafe, ", ")))
	}
	if len(host) > 0 {
		s.warn(name, "sysctls", fmt.Sprintf("%s not carried over: the pod uses the node's namespace for them, and Kubernetes lets no pod change the node's", strings.Join(host, ", ")))
	}
}

// securityOpts carries security_opt over: no-new-privileges, seccomp and
// apparmor profiles, and SELinux labels.
func (s *state) securityOpts(name string, svc types.ServiceConfig, c *corev1.Container) {
	sc := func() *corev1.SecurityContext {
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		return c.SecurityContext
	}
	for _, opt := range svc.SecurityOpt {
		k, v, _ := strings.Cut(opt, "=")
		if k == opt {
			k, v, _ = strings.Cut(opt, ":")
		}
		switch k {
		case "no-new-privileges":
			if b, err := strconv.ParseBool(strings.TrimSpace(v)); v == "" || (err == nil && b) {
				if svc.Privileged {
					s.warn(name, "security_opt", "no-new-privileges is not carried over: the container is privileged, and Kubernetes takes no privileged container that may not escalate")
					continue
				}
				sc().AllowPrivilegeEscalation = ptr.To(false)
			}
		case "seccomp":
			switch v {
			case "unconfined":
				sc().SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
			default:
				s.warn(name, "security_opt", fmt.Sprintf("seccomp profile %s is not carried over: a profile file must be installed on the node and named relative to the kubelet's seccomp folder; the container runtime's default profile is used", v))
				sc().SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
			}
		case "apparmor":
			switch v {
			case "unconfined":
				sc().AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
			case "runtime/default", "docker-default":
				sc().AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
			case "":
				s.warn(name, "security_opt", "apparmor names no profile: left out")
			default:
				sc().AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: ptr.To(v)}
				s.warn(name, "security_opt", fmt.Sprintf("apparmor profile %s must be loaded on the node, or the pod does not start", v))
			}
		case "label":
			s.seLinux(name, v, sc)
		default:
			s.warn(name, "security_opt", fmt.Sprintf("%s is not carried over: it has no counterpart in a container's securityContext", opt))
		}
	}
}

// seLinux carries a security_opt label (SELinux) over as seLinuxOptions.
func (s *state) seLinux(name, v string, sc func() *corev1.SecurityContext) {
	part, value, _ := strings.Cut(v, ":")
	if v == "disable" || v == "false" {
		s.warn(name, "security_opt", "label=disable is not carried over: SELinux separation can only be set per level in Kubernetes")
		return
	}
	opts := sc().SELinuxOptions
	if opts == nil {
		opts = &corev1.SELinuxOptions{}
	}
	switch part {
	case "user":
		opts.User = value
	case "role":
		opts.Role = value
	case "type":
		opts.Type = value
	case "level":
		opts.Level = value
	default:
		s.warn(name, "security_opt", fmt.Sprintf("label=%s is not carried over", v))
		return
	}
	sc().SELinuxOptions = opts
}

// groups warns about the group_add entries that kompose could not carry
// over as supplementalGroups: names (Kubernetes needs numbers).
func (s *state) groups(name string, svc types.ServiceConfig, _ *corev1.PodSpec) {
	var names []string
	for _, g := range svc.GroupAdd {
		if _, err := strconv.ParseInt(strings.TrimSpace(g), 10, 64); err == nil {
			if _, ok := numericGroup(g); !ok {
				s.warn(name, "group_add", fmt.Sprintf("%s not carried over: Kubernetes takes group IDs from 0 to %d", g, math.MaxInt32))
			}
			continue
		}
		names = append(names, g)
	}
	if len(names) > 0 {
		s.warn(name, "group_add", fmt.Sprintf("%s not carried over: Kubernetes needs numeric group IDs (supplementalGroups), the image's /etc/group is not read", strings.Join(names, ", ")))
	}
}

// numericGroup parses a group ID as supplementalGroups takes it.
func numericGroup(g string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(g), 10, 64)
	return n, err == nil && n >= 0 && n <= math.MaxInt32
}
