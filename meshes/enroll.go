package meshes

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// none is the baseline: the app as it is, on no mesh.
type none struct{}

func (none) Name() string { return None }

func (none) Enroll(_ string, objs []*unstructured.Unstructured) (*Enrolment, error) {
	return &Enrolment{Objects: copies(objs)}, nil
}

// istio enrols with sidecars: the namespace's injection label, and native
// sidecars (the proxy is a sidecar init container, started before the
// app's init containers), so that depends_on waits go through a running
// proxy.
type istio struct{}

func (istio) Name() string { return Istio }

func (istio) Enroll(_ string, objs []*unstructured.Unstructured) (*Enrolment, error) {
	e := &Enrolment{Objects: copies(objs), NamespaceLabels: map[string]string{"istio-injection": "enabled"}}
	annotatePods(e.Objects, map[string]string{"sidecar.istio.io/nativeSidecar": "true"})
	if hasWaits(e.Objects) {
		e.Notes = append(e.Notes, "depends_on waits: Istio's proxy runs as a native sidecar (sidecar.istio.io/nativeSidecar), started before the waits")
	}
	for _, o := range e.Objects {
		if !isService(o) {
			continue
		}
		for _, p := range servicePorts(o) {
			if _, ok := serverFirst[p.port]; ok && protocolOf(p) == "tcp" && strings.ToLower(p.appProtocol) != "tcp" && !strings.HasPrefix(p.name, "tcp") {
				e.Notes = append(e.Notes, fmt.Sprintf("Service %s port %d (%s) speaks first: name it tcp-... or set appProtocol: tcp, or Istio waits for the client", o.GetName(), p.port, serverFirst[p.port]))
			}
		}
	}
	return e, nil
}

// ambient enrols with Istio's ambient mode: the namespace's data-plane
// label; ztunnel on each node carries the traffic, so pods are not
// changed and depends_on waits need nothing.
type ambient struct{}

func (ambient) Name() string { return IstioAmbient }

func (ambient) Enroll(_ string, objs []*unstructured.Unstructured) (*Enrolment, error) {
	e := &Enrolment{Objects: copies(objs), NamespaceLabels: map[string]string{"istio.io/dataplane-mode": "ambient"}}
	if hasWaits(e.Objects) {
		e.Notes = append(e.Notes, "depends_on waits: nothing to do under ambient (no sidecar; ztunnel carries the pods' traffic from their start)")
	}
	return e, nil
}

// linkerd enrols with the namespace's inject annotation and native
// sidecars (config.beta.linkerd.io/proxy-enable-native-sidecar), and marks
// server-first ports opaque.
type linkerd struct{}

func (linkerd) Name() string { return Linkerd }

func (linkerd) Enroll(_ string, objs []*unstructured.Unstructured) (*Enrolment, error) {
	e := &Enrolment{Objects: copies(objs), NamespaceAnnotations: map[string]string{"linkerd.io/inject": "enabled"}}
	annotatePods(e.Objects, map[string]string{"config.beta.linkerd.io/proxy-enable-native-sidecar": "true"})
	if hasWaits(e.Objects) {
		e.Notes = append(e.Notes, "depends_on waits: Linkerd's proxy runs as a native sidecar (config.beta.linkerd.io/proxy-enable-native-sidecar), started before the waits")
	}
	for _, o := range e.Objects {
		if !isService(o) {
			continue
		}
		if ports := opaque(o); len(ports) > 0 {
			annotate(o, map[string]string{"config.linkerd.io/opaque-ports": joinPorts(ports)})
			e.Notes = append(e.Notes, fmt.Sprintf("Service %s: ports %s are opaque to Linkerd (their servers speak first)", o.GetName(), joinPorts(ports)))
		}
	}
	return e, nil
}

// consul enrols each pod (connect-inject, transparent proxy), says each
// Service's protocol with a ServiceDefaults, keeps the extra LoadBalancer
// Services out of Consul (a pod may belong to one Service only), and lets
// the depends_on waits past the proxy by their user: Consul's documented
// exclusion (transparent-proxy-exclude-uids), as its proxy starts after
// the init containers.
type consul struct{}

func (consul) Name() string { return Consul }

func (consul) Enroll(ns string, objs []*unstructured.Unstructured) (*Enrolment, error) {
	e := &Enrolment{Objects: copies(objs)}
	ann := map[string]string{"consul.hashicorp.com/connect-inject": "true", "consul.hashicorp.com/transparent-proxy": "true"}
	if hasWaits(e.Objects) {
		ann["consul.hashicorp.com/transparent-proxy-exclude-uids"] = fmt.Sprint(WaitUID)
		forWaits(e.Objects, func(c map[string]any) {
			sc, _ := c["securityContext"].(map[string]any)
			if sc == nil {
				sc = map[string]any{}
			}
			sc["runAsUser"] = int64(WaitUID)
			c["securityContext"] = sc
		})
		e.Notes = append(e.Notes, fmt.Sprintf("depends_on waits: they run as user %d, which Consul's transparent proxy lets through (consul.hashicorp.com/transparent-proxy-exclude-uids): Consul's proxy starts after init containers", WaitUID))
	}
	annotatePods(e.Objects, ann)
	var extras []*unstructured.Unstructured
	for _, o := range e.Objects {
		if !isService(o) {
			continue
		}
		if o.GetLabels()["meshdock.io/exposes"] != "" {
			annotate(o, map[string]string{"consul.hashicorp.com/service-ignore": "true"})
			continue
		}
		protocol := "tcp"
		if ports := servicePorts(o); len(ports) > 0 {
			protocol = protocolOf(ports[0])
		}
		extras = append(extras, labelled("consul.hashicorp.com/v1alpha1", "ServiceDefaults", ns, o.GetName(), map[string]any{"protocol": protocol}))
	}
	e.Objects = append(e.Objects, extras...)
	return e, nil
}

// kuma enrols with the namespace's injection label; the chart's native
// sidecars (experimental.sidecarContainers, on by default) start the proxy
// before the app's init containers. Each Service port says its protocol.
type kuma struct{}

func (kuma) Name() string { return Kuma }

func (kuma) Enroll(_ string, objs []*unstructured.Unstructured) (*Enrolment, error) {
	e := &Enrolment{Objects: copies(objs), NamespaceLabels: map[string]string{"kuma.io/sidecar-injection": "enabled"}}
	if hasWaits(e.Objects) {
		e.Notes = append(e.Notes, "depends_on waits: Kuma's proxy runs as a native sidecar (the control plane's experimental.sidecarContainers, on by default), started before the waits")
	}
	for _, o := range e.Objects {
		if !isService(o) {
			continue
		}
		ann := map[string]string{}
		for _, p := range servicePorts(o) {
			ann[fmt.Sprintf("%d.service.kuma.io/protocol", p.port)] = protocolOf(p)
		}
		if len(ann) > 0 {
			annotate(o, ann)
		}
	}
	return e, nil
}
