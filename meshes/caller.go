package meshes

import (
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Caller is a workload that is not the app's (the load generator) and
// must reach one of its ports in a namespace whose rules allow only the
// app's paths.
type Caller struct {
	// Name names the rules; Account is its ServiceAccount and Labels its
	// pods' labels.
	Name, Account string
	Labels        map[string]string
	// Target is the callee's pods' labels, Port its pods' port (a number
	// or a name) and Protocol the port's (TCP).
	Target   map[string]string
	Port     string
	Protocol string
}

// AllowCaller makes the rules that let c reach its target under authz
// enforce, beside the app's own: NetworkPolicies for both ends and the
// mesh's allow rule. Every rule only adds what it allows, so the app's
// paths stay as they were, and the caller reaches nothing else. Notes say
// what cannot be allowed this way.
func AllowCaller(mesh, ns string, c Caller) (objs []*unstructured.Unstructured, notes []string) {
	const v = "networking.k8s.io/v1"
	proto := c.Protocol
	if proto == "" {
		proto = "TCP"
	}
	port := func() map[string]any {
		if n, err := strconv.Atoi(c.Port); err == nil {
			return map[string]any{"port": int64(n), "protocol": proto}
		}
		return map[string]any{"port": c.Port, "protocol": proto}
	}
	ports := []any{port()}
	switch mesh {
	case IstioAmbient:
		ports = append(ports, portEntry(hbonePort, "TCP"))
	case Consul:
		ports = append(ports, portEntry(consulPublicPort, "TCP"))
	}
	objs = append(objs,
		labelled(v, "NetworkPolicy", ns, c.Name+"-egress", map[string]any{"podSelector": selector(c.Labels), "policyTypes": []any{"Egress"},
			"egress": []any{map[string]any{"to": []any{map[string]any{"podSelector": selector(c.Target)}}, "ports": ports}}}),
		labelled(v, "NetworkPolicy", ns, c.Name+"-ingress", map[string]any{"podSelector": selector(c.Target), "policyTypes": []any{"Ingress"},
			"ingress": []any{map[string]any{"from": []any{map[string]any{"podSelector": selector(c.Labels)}}, "ports": ports}}}))
	switch mesh {
	case Istio, IstioAmbient:
		rule := map[string]any{"from": []any{map[string]any{"source": map[string]any{"principals": []any{istioPrincipal(ns, c.Account)}}}}}
		if _, err := strconv.Atoi(c.Port); err == nil {
			rule["to"] = []any{map[string]any{"operation": map[string]any{"ports": []any{c.Port}}}}
		}
		objs = append(objs, labelled("security.istio.io/v1", "AuthorizationPolicy", ns, c.Name, map[string]any{
			"selector": selector(c.Target), "action": "ALLOW", "rules": []any{rule}}))
	case Linkerd:
		// Its Servers are the app's, named by port: the caller is allowed
		// to every Server of the namespace (the target's among them).
		ref := map[string]any{"group": "policy.linkerd.io", "kind": "MeshTLSAuthentication", "name": c.Name}
		objs = append(objs,
			labelled("policy.linkerd.io/v1alpha1", "MeshTLSAuthentication", ns, c.Name, map[string]any{
				"identityRefs": []any{map[string]any{"kind": "ServiceAccount", "name": c.Account}}}),
			labelled("policy.linkerd.io/v1alpha1", "AuthorizationPolicy", ns, c.Name, map[string]any{
				"targetRef": map[string]any{"kind": "Namespace", "name": ns}, "requiredAuthenticationRefs": []any{ref}}))
		notes = append(notes, "linkerd: the load generator may reach every Server of the namespace while it runs (its rule names the namespace)")
	case Kuma:
		tags := map[string]any{"k8s.kuma.io/namespace": ns}
		for k, v := range c.Labels {
			tags[k] = v
		}
		target := map[string]any{}
		for k, v := range c.Target {
			target[k] = v
		}
		objs = append(objs, labelled("kuma.io/v1alpha1", "MeshTrafficPermission", ns, c.Name, map[string]any{
			"targetRef": map[string]any{"kind": "Dataplane", "labels": target},
			"from":      []any{map[string]any{"targetRef": map[string]any{"kind": "MeshSubset", "tags": tags}, "default": map[string]any{"action": "Allow"}}}}))
	case Consul:
		notes = append(notes, "consul: the target's ServiceIntentions deny the load generator (one intention per service, which meshdock's deploy writes): add meshdock-loadgen to its sources, or deploy with authz audit or off to benchmark")
	}
	return objs, notes
}
