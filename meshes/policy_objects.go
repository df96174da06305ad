package meshes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshdock/meshdock"
)

// PolicyTarget is one compose service as deployed: the name of its
// Kubernetes Service, its namespace and the Service's ports.
type PolicyTarget struct {
	Service     string // the compose service name, as a Policy names it
	KubeService string
	Namespace   string
	Ports       []PolicyPort
}

// PolicyPort is one port of a target's Service.
type PolicyPort struct {
	Name        string
	Port        int32
	AppProtocol string
}

// PolicyObjects translates p for one mesh into that mesh's objects, with a
// warning for every setting the mesh cannot express, to show the user
// before anything is deployed. Settings carried by annotations come from
// PolicyAnnotations and PolicyNamespaceAnnotations instead. The policy is
// validated against the targets' service names first.
func PolicyObjects(mesh string, p *Policy, targets []PolicyTarget) ([]*unstructured.Unstructured, []string, error) {
	if p == nil {
		p = &Policy{}
	}
	if err := policyCheckTargets(p, targets); err != nil {
		return nil, nil, err
	}
	w := &policyWriter{}
	switch mesh {
	case "", None:
		policyNone(w, p, targets)
	case Istio, IstioAmbient:
		policyIstio(w, mesh, p, targets)
	case Linkerd:
		policyLinkerd(w, p, targets)
	case Consul:
		policyConsul(w, p, targets)
	case Kuma:
		policyKuma(w, p, targets)
	default:
		return nil, nil, meshdock.Errorf(meshdock.EINVALID, "unknown mesh %q (known: %s)", mesh, strings.Join(Names(), ", "))
	}
	return w.objects, w.warnings, nil
}

// policyCheckTargets validates p against the targets' service names and
// checks the targets themselves.
func policyCheckTargets(p *Policy, targets []PolicyTarget) error {
	names := make([]string, 0, len(targets))
	for _, t := range targets {
		if t.Service == "" || t.KubeService == "" || t.Namespace == "" {
			return meshdock.Errorf(meshdock.EINTERNAL, "policy target %+v lacks a name or namespace", t)
		}
		if errs := validation.IsDNS1035Label(t.KubeService); len(errs) > 0 {
			return meshdock.Errorf(meshdock.EINTERNAL, "policy target %s: Service name %q: %s", t.Service, t.KubeService, strings.Join(errs, "; "))
		}
		names = append(names, t.Service)
	}
	return p.Validate(names)
}

// policyWriter collects a translation's objects and warnings.
type policyWriter struct {
	objects  []*unstructured.Unstructured
	warnings []string
}

func (w *policyWriter) warn(format string, args ...any) {
	w.warnings = append(w.warnings, fmt.Sprintf(format, args...))
}

// add appends an object of the mesh's own, marked as meshdock's policy.
func (w *policyWriter) add(apiVersion, kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": name, "labels": map[string]any{
		"app.kubernetes.io/managed-by": "meshdock",
		"meshdock.io/policy":           "true",
	}}
	if ns != "" {
		meta["namespace"] = ns
	}
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind, "metadata": meta, "spec": spec,
	}}
	w.objects = append(w.objects, o)
	return o
}

// policyName is a DNS label made of a Service name and a suffix; when the
// two are too long together, the name is cut and a hash keeps it unique.
func policyName(service, suffix string) string {
	name := service
	if suffix != "" {
		name += "-" + suffix
	}
	if len(name) <= validation.DNS1035LabelMaxLength {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:])[:8]
	keep := validation.DNS1035LabelMaxLength - len(h) - 1
	return strings.TrimRight(name[:keep], "-") + "-" + h
}

// policyProtocol is the protocol a mesh should take t for, as enrolment
// does: that of its first port, tcp when it has none.
func policyProtocol(t PolicyTarget) string {
	if len(t.Ports) == 0 {
		return "tcp"
	}
	p := t.Ports[0]
	return protocolOf(servicePort{port: int64(p.Port), name: p.Name, appProtocol: p.AppProtocol})
}

// policyL7 reports whether any port of t speaks HTTP (or gRPC), which
// timeouts and retries need.
func policyL7(t PolicyTarget) bool {
	for _, p := range t.Ports {
		if protocolOf(servicePort{port: int64(p.Port), name: p.Name, appProtocol: p.AppProtocol}) != "tcp" {
			return true
		}
	}
	return false
}

// policyRequests returns the service's policy with timeout and retries
// dropped, and a warning, when t has no HTTP port to apply them to.
func policyRequests(w *policyWriter, p *Policy, t PolicyTarget) ServicePolicy {
	sp := policyFor(p, t.Service)
	if (sp.Timeout != "" || sp.Retries != nil) && !policyL7(t) {
		w.warn("%s: timeout and retries are not set: they need an HTTP or gRPC port (appProtocol http, http2 or grpc, or a port named http-*), and its Service has none", t.Service)
		sp.Timeout, sp.Retries = "", nil
	}
	return sp
}

// policyNone expresses nothing: every setting is a warning.
func policyNone(w *policyWriter, p *Policy, targets []PolicyTarget) {
	if p.MTLS != "" {
		w.warn("mtls %q is not applied: without a mesh there is no mutual TLS", p.MTLS)
	}
	for _, t := range targets {
		sp := policyFor(p, t.Service)
		for _, f := range []struct {
			key string
			set bool
		}{{"timeout", sp.Timeout != ""}, {"retries", sp.Retries != nil}, {"circuitBreaker", sp.CircuitBreaker != nil}} {
			if f.set {
				w.warn("%s: %s is not applied: without a mesh nothing enforces it", t.Service, f.key)
			}
		}
	}
}
