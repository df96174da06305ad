package convert

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// wellKnown maps container ports to the protocol meshes should treat them
// as. Server-first protocols are plain TCP: a mesh must not wait for the
// client to speak first on them.
var wellKnown = map[int32]struct{ name, proto string }{
	80: {"http", "http"}, 8080: {"http", "http"}, 8000: {"http", "http"}, 8081: {"http", "http"},
	3000: {"http", "http"}, 4200: {"http", "http"}, 8888: {"http", "http"},
	9090: {"http", "http"}, 9200: {"http", "http"}, 15672: {"http", "http"},
	443: {"https", "https"}, 8443: {"https", "https"},
	50051: {"grpc", "grpc"},
	3306:  {"tcp-mysql", "tcp"}, 5432: {"tcp-postgres", "tcp"}, 6379: {"tcp-redis", "tcp"},
	27017: {"tcp-mongo", "tcp"}, 5672: {"tcp-amqp", "tcp"}, 9092: {"tcp-kafka", "tcp"},
	11211: {"tcp-memcached", "tcp"}, 2181: {"tcp-zookeeper", "tcp"}, 4222: {"tcp-nats", "tcp"},
	1433: {"tcp-mssql", "tcp"}, 1521: {"tcp-oracle", "tcp"}, 25: {"tcp-smtp", "tcp"},
}

// portInfo is what the ports pass decides for one container port.
type portInfo struct {
	name  string
	proto *string // appProtocol
}

// portsPass names every container port and Service port and sets
// appProtocol, so meshes know what they carry. A compose `app_protocol` or
// port `name` wins; well-known ports are recognised; other TCP ports get a
// neutral name so a mesh detects the protocol itself.
//
// It also fixes the Service ports: kompose exposes the published (host)
// port, but inside the app other services connect to the container port
// (`web:80`, not `web:8080`). The Service now offers the container port, and
// the published one too when it differs.
func portsPass(s *state) error {
	for _, name := range s.p.ServiceNames() {
		w := s.pods[name]
		c := w.container()
		if c == nil {
			continue
		}
		declared := map[string]portInfo{} // "80/TCP" -> compose name/app_protocol
		for i, p := range s.service(name).Ports {
			t, err := strconv.Atoi(strings.Split(fmt.Sprint(p.Target), "-")[0])
			if err != nil {
				continue
			}
			key := fmt.Sprintf("ports.%d", i)
			switch p.HostIP {
			case "", "0.0.0.0", "::", "[::]":
			default:
				s.warn(name, key, fmt.Sprintf("published on %s only in compose: its Service is reachable from every pod of the cluster (and from the host only through a port-forward or a LoadBalancer)", p.HostIP))
			}
			info := portInfo{}
			if p.Name != "" {
				info.name = portName(p.Name)
				if info.name != p.Name {
					s.warn(name, key+".name", fmt.Sprintf("port name %q is %q in Kubernetes, which takes at most 15 lower-case letters, digits and '-'", p.Name, info.name))
				}
			}
			if p.AppProtocol != "" {
				info.proto = ptr.To(p.AppProtocol)
			}
			declared[portKey(int32(t), protoOf(p.Protocol))] = info
		}
		used := map[string]bool{}
		for i := range c.Ports {
			cp := &c.Ports[i]
			cp.Protocol = protoOf(string(cp.Protocol))
			info := choosePort(cp.ContainerPort, cp.Protocol, declared[portKey(cp.ContainerPort, cp.Protocol)])
			n := info.name
			for j := 2; used[n]; j++ {
				n = portName(fmt.Sprintf("%s-%d", info.name, j))
			}
			used[n] = true
			cp.Name = n
		}
		if svc := s.kubeService(name); svc != nil {
			fixServicePorts(svc, c.Ports, declared)
		}
	}
	return nil
}

func portKey(port int32, proto corev1.Protocol) string { return fmt.Sprintf("%d/%s", port, proto) }

func protoOf(p string) corev1.Protocol {
	switch strings.ToUpper(p) {
	case "UDP":
		return corev1.ProtocolUDP
	case "SCTP":
		return corev1.ProtocolSCTP
	}
	return corev1.ProtocolTCP
}

func choosePort(port int32, proto corev1.Protocol, declared portInfo) portInfo {
	info := declared
	if proto == corev1.ProtocolUDP {
		if info.name == "" {
			info.name = fmt.Sprintf("udp-%d", port)
		}
		return info
	}
	if wk, ok := wellKnown[port]; ok {
		if info.proto == nil {
			info.proto = ptr.To(wk.proto)
		}
		if info.name == "" {
			info.name = wk.name
			if !strings.HasPrefix(wk.name, "tcp-") {
				info.name = fmt.Sprintf("%s-%d", wk.name, port)
			}
		}
	}
	if info.name == "" {
		if info.proto != nil {
			info.name = portName(fmt.Sprintf("%s-%d", *info.proto, port))
		} else {
			info.name = fmt.Sprintf("port-%d", port)
		}
	}
	return info
}

// portName makes a valid port name: at most 15 lower-case letters, digits
// and dashes, with at least one letter.
func portName(n string) string {
	n = dnsName(n)
	if len(n) > 15 {
		n = strings.Trim(n[:15], "-")
	}
	if strings.Trim(n, "0123456789-") == "" {
		n = "p-" + n
		if len(n) > 15 {
			n = n[:15]
		}
	}
	return n
}

// fixServicePorts rebuilds a Service's ports from kompose's: each targets a
// named container port, the container port is always offered, and a
// published port that differs is offered as well.
func fixServicePorts(svc *corev1.Service, container []corev1.ContainerPort, declared map[string]portInfo) {
	byTarget := map[string]corev1.ContainerPort{}
	for _, cp := range container {
		byTarget[portKey(cp.ContainerPort, cp.Protocol)] = cp
	}
	var out []corev1.ServicePort
	seen := map[string]bool{}
	usedNames := map[string]bool{}
	addPort := func(port int32, cp corev1.ContainerPort, suffix string) {
		k := portKey(port, cp.Protocol)
		if seen[k] {
			return
		}
		seen[k] = true
		name := cp.Name
		if suffix != "" {
			// A second port to the same container port: name it after the
			// published port, short enough to stay whole.
			name = fmt.Sprintf("%s-%s", cp.Name, suffix)
			if len(name) > 15 {
				name = fmt.Sprintf("p-%s", suffix)
			}
			name = portName(name)
		}
		for i := 2; usedNames[name]; i++ {
			name = portName(fmt.Sprintf("p%d-%d", i, port))
		}
		usedNames[name] = true
		info := choosePort(cp.ContainerPort, cp.Protocol, declared[portKey(cp.ContainerPort, cp.Protocol)])
		out = append(out, corev1.ServicePort{Name: name, Port: port, Protocol: cp.Protocol, TargetPort: intstr.FromString(cp.Name), AppProtocol: info.proto})
	}
	// Container ports first, so in-app addresses work.
	for _, sp := range svc.Spec.Ports {
		if cp, ok := byTarget[portKey(sp.TargetPort.IntVal, protoOf(string(sp.Protocol)))]; ok {
			addPort(cp.ContainerPort, cp, "")
		}
	}
	for _, sp := range svc.Spec.Ports {
		if cp, ok := byTarget[portKey(sp.TargetPort.IntVal, protoOf(string(sp.Protocol)))]; ok && sp.Port != cp.ContainerPort {
			addPort(sp.Port, cp, strconv.Itoa(int(sp.Port)))
		}
	}
	if len(out) > 0 {
		svc.Spec.Ports = out
	}
}

// kubeService returns the Service kompose made for a compose service.
func (s *state) kubeService(name string) *corev1.Service {
	for _, o := range s.objs {
		if svc, ok := o.(*corev1.Service); ok && svc.Name == s.names[name] {
			return svc
		}
	}
	return nil
}
