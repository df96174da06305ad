package convert

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// servicesPass makes every name that compose resolves resolvable in the
// cluster too. kompose makes a Service only for services with `ports` or
// `expose`, so `DB_HOST=db` stops working for a database that publishes
// nothing; such a service gets a headless Service, which gives it a DNS
// name without inventing ports. `container_name`, network aliases and link
// aliases are host names in compose as well: each gets a Service of its own
// that selects the same pods.
func servicesPass(s *state) error {
	existing := map[string]bool{}
	for _, o := range s.objs {
		if svc, ok := o.(*corev1.Service); ok {
			existing[svc.Name] = true
		}
	}
	for _, name := range s.p.ServiceNames() {
		if s.pods[name] == nil {
			continue
		}
		k := s.names[name]
		if !existing[k] {
			s.add(headlessService(k, name))
			existing[k] = true
		}
	}
	for _, name := range s.p.ServiceNames() {
		if s.pods[name] == nil {
			continue
		}
		for _, alias := range s.hostAliases(name) {
			a := dnsName(alias.name)
			if existing[a] {
				if a != s.names[name] {
					s.warn(name, alias.key, fmt.Sprintf("host name %q is already the name of another Service; it is not added", alias.name))
				}
				continue
			}
			existing[a] = true
			svc := s.kubeService(name).DeepCopy()
			svc.Name = a
			if svc.Annotations == nil {
				svc.Annotations = map[string]string{}
			}
			svc.Annotations["meshdock.io/alias-of"] = s.names[name]
			s.add(svc)
			if a != alias.name {
				s.warn(name, alias.key, fmt.Sprintf("host name %q is not a valid Kubernetes name; it resolves as %q", alias.name, a))
			}
		}
	}
	s.warnInvalidHosts()
	s.warnStaticAddresses()
	s.addReachedPorts()
	return nil
}

// addReachedPorts opens the ports other services connect to. In compose a
// container is reachable on every port it listens on; a Service only
// forwards the ports it lists, which are those of `ports` and `expose`. When
// an environment value names a service and a port it does not list
// (`ws://bot:16700`), the port is added to its Service.
func (s *state) addReachedPorts() {
	hosts := s.hostIndex()
	added := map[string]int{} // ports added per target service
	for _, name := range s.p.ServiceNames() {
		for _, ref := range s.references(name) {
			for _, hp := range hostPorts(ref.text) {
				target, ok := hosts[hp.host]
				if !ok || hp.port == 0 || target == name {
					continue
				}
				svc := s.kubeService(target)
				if svc == nil || svc.Spec.ClusterIP == corev1.ClusterIPNone || hasPort(svc, hp.port) {
					continue // a headless Service reaches every port of the pod
				}
				// Text that names a thousand ports of one service is data,
				// not the app's connections.
				if added[target]++; added[target] > maxReachedPorts {
					if added[target] == maxReachedPorts+1 {
						s.warn(name, ref.key, fmt.Sprintf("names more than %d ports of %s that it does not publish or expose: no more are added to its Service", maxReachedPorts, target))
					}
					continue
				}
				info := choosePort(hp.port, corev1.ProtocolTCP, portInfo{})
				svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: uniquePortName(svc, info.name), Port: hp.port,
					Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(hp.port), AppProtocol: info.proto})
				s.warn(name, ref.key, fmt.Sprintf("connects to %s on port %d, which %s does not publish or expose: the port is added to its Service", hp.host, hp.port, target))
			}
		}
	}
}

// maxReachedPorts bounds the ports addReachedPorts adds to one Service.
const maxReachedPorts = 50

// reference is text a service carries that may name other services: an
// environment value, or a config or mounted file of the project.
type reference struct{ key, text string }

// references lists what a service's container gets to read that may name
// other services' addresses.
func (s *state) references(name string) []reference {
	svc := s.service(name)
	var out []reference
	for _, e := range envVars(svc.Environment) {
		out = append(out, reference{"environment." + e.key, e.value})
	}
	for i, c := range svc.Configs {
		if def, ok := s.p.Configs[c.Source]; ok {
			text := def.Content
			if def.File != "" {
				text = string(firstOf(s.p.Content(def.File)))
			}
			out = append(out, reference{fmt.Sprintf("configs.%d", i), text})
		}
	}
	for i, v := range svc.Volumes {
		if v.Type == types.VolumeTypeBind && s.opt.BindMounts == BindMountsConfigMap {
			if b, ok := s.p.Content(v.Source); ok {
				out = append(out, reference{fmt.Sprintf("volumes.%d", i), string(b)})
			}
		}
	}
	return out
}

func hasPort(svc *corev1.Service, port int32) bool {
	for _, p := range svc.Spec.Ports {
		if p.Port == port || p.TargetPort.IntVal == port {
			return true
		}
	}
	return false
}

func uniquePortName(svc *corev1.Service, name string) string {
	used := map[string]bool{}
	for _, p := range svc.Spec.Ports {
		used[p.Name] = true
	}
	n := name
	for i := 2; used[n]; i++ {
		n = portName(fmt.Sprintf("p%d-%s", i, name))
	}
	return n
}

// warnStaticAddresses points at environment values that reach a service by
// the static IP address compose gave it, which pods do not keep.
func (s *state) warnStaticAddresses() {
	static := map[string]string{}
	for _, name := range s.p.ServiceNames() {
		for _, cfg := range s.service(name).Networks {
			if cfg == nil {
				continue
			}
			for _, ip := range []string{cfg.Ipv4Address, cfg.Ipv6Address} {
				if ip != "" {
					static[ip] = name
				}
			}
		}
	}
	if len(static) == 0 {
		return
	}
	for _, name := range s.p.ServiceNames() {
		for _, e := range envVars(s.service(name).Environment) {
			for _, ip := range slices.Sorted(maps.Keys(static)) {
				if strings.Contains(e.value, ip) {
					s.warn(name, "environment."+e.key, fmt.Sprintf("names %s, the static address of %s, which its pod does not get: use the host name %s", ip, static[ip], s.names[static[ip]]))
				}
			}
		}
	}
}

// warnInvalidHosts points at environment values that name a service by a
// host name Kubernetes cannot have (app_settings): the value must change.
func (s *state) warnInvalidHosts() {
	for _, name := range s.p.ServiceNames() {
		for _, e := range envVars(s.service(name).Environment) {
			for _, host := range hostTokens(e.value) {
				if target, ok := s.names[host]; ok && target != host {
					s.warn(name, "environment."+e.key, fmt.Sprintf("names the host %q, which is %q in the cluster: change the value", host, target))
				}
			}
		}
	}
}

type hostAlias struct{ name, key string }

// linkAliases maps each service to the aliases other services' links give
// it ("db:database" makes database a name of db), computed once.
func (s *state) linkAliases() map[string][]hostAlias {
	if s.links != nil {
		return s.links
	}
	s.links = map[string][]hostAlias{}
	for _, other := range s.p.ServiceNames() {
		for _, l := range s.service(other).Links {
			target, alias, ok := strings.Cut(l, ":")
			if ok && alias != "" {
				s.links[target] = append(s.links[target], hostAlias{alias, "links"})
			}
		}
	}
	return s.links
}

// hostIndex maps every host name compose resolves to its service.
func (s *state) hostIndex() map[string]string {
	hosts := map[string]string{}
	for _, name := range s.p.ServiceNames() {
		hosts[name] = name
		for _, a := range s.hostAliases(name) {
			hosts[a.name] = name
		}
	}
	return hosts
}

// hostAliases lists the other names a service is reachable by in compose.
// (`hostname` is not one: it names the container to itself only.)
func (s *state) hostAliases(name string) []hostAlias {
	svc := s.service(name)
	var out []hostAlias
	if svc.ContainerName != "" {
		out = append(out, hostAlias{svc.ContainerName, "container_name"})
	}
	nets := slices.Sorted(maps.Keys(svc.Networks))
	for _, n := range nets {
		if cfg := svc.Networks[n]; cfg != nil {
			for _, a := range cfg.Aliases {
				out = append(out, hostAlias{a, "networks." + n + ".aliases"})
			}
		}
	}
	out = append(out, s.linkAliases()[name]...)
	return out
}

func headlessService(k, compose string) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{Kind: "Service", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: k, Labels: map[string]string{"io.kompose.service": k}},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{"io.kompose.service": k},
		},
	}
}
