package meshes

// policyKumaRetryOn maps neutral retry conditions to MeshRetry's retryOn
// values; Kuma checks them only in its webhook.
var policyKumaRetryOn = map[string]string{
	"5xx": "5XX", "gateway-error": "GatewayError", "connect-failure": "ConnectFailure",
	"reset": "Reset", "retriable-4xx": "Retriable4xx", "refused-stream": "RefusedStream",
}

// policyKuma writes a MeshTLS per namespace and, per service, a
// MeshTimeout, MeshRetry and MeshCircuitBreaker whose `to` is the
// service's MeshService: producer policies, in the service's own
// namespace, that hold for every client in the mesh.
func policyKuma(w *policyWriter, p *Policy, targets []PolicyTarget) {
	if p.MTLS != "" {
		mode := map[string]string{"strict": "Strict", "permissive": "Permissive"}[p.MTLS]
		for _, ns := range policyNamespaces(targets) {
			w.add("kuma.io/v1alpha1", "MeshTLS", ns, "meshdock-mtls", map[string]any{
				"targetRef": map[string]any{"kind": "Mesh"},
				"from": []any{map[string]any{
					"targetRef": map[string]any{"kind": "Mesh"},
					"default":   map[string]any{"mode": mode},
				}},
			})
		}
		w.warn("kuma: mtls mode applies only when the Mesh has mTLS enabled (spec.mtls.enabledBackend)")
	}
	wrote := false
	for _, t := range targets {
		sp := policyRequests(w, p, t)
		to := func(def map[string]any) map[string]any {
			wrote = true
			return map[string]any{
				"targetRef": map[string]any{"kind": "Mesh"},
				"to": []any{map[string]any{
					"targetRef": map[string]any{"kind": "MeshService", "name": t.KubeService, "namespace": t.Namespace},
					"default":   def,
				}},
			}
		}
		if sp.Timeout != "" {
			w.add("kuma.io/v1alpha1", "MeshTimeout", t.Namespace, policyName(t.KubeService, "timeout"),
				to(map[string]any{"http": map[string]any{"requestTimeout": policySeconds(sp.Timeout)}}))
		}
		if r := sp.Retries; r != nil {
			http := map[string]any{"numRetries": int64(r.Attempts)}
			if r.PerTryTimeout != "" {
				http["perTryTimeout"] = policySeconds(r.PerTryTimeout)
			}
			if len(r.On) > 0 {
				on := make([]any, len(r.On))
				for i, c := range r.On {
					on[i] = policyKumaRetryOn[c]
				}
				http["retryOn"] = on
			}
			w.add("kuma.io/v1alpha1", "MeshRetry", t.Namespace, policyName(t.KubeService, "retry"),
				to(map[string]any{"http": http}))
		}
		if cb := sp.CircuitBreaker; cb != nil {
			def := map[string]any{}
			limits := map[string]any{}
			if cb.MaxConnections > 0 {
				limits["maxConnections"] = int64(cb.MaxConnections)
			}
			if cb.MaxPendingRequests > 0 {
				limits["maxPendingRequests"] = int64(cb.MaxPendingRequests)
			}
			if len(limits) > 0 {
				def["connectionLimits"] = limits
			}
			od := map[string]any{}
			if cb.ConsecutiveErrors > 0 {
				od["detectors"] = map[string]any{"totalFailures": map[string]any{"consecutive": int64(cb.ConsecutiveErrors)}}
			}
			if cb.Interval != "" {
				od["interval"] = policySeconds(cb.Interval)
			}
			if cb.BaseEjectionTime != "" {
				od["baseEjectionTime"] = policySeconds(cb.BaseEjectionTime)
			}
			if len(od) > 0 {
				od["disabled"] = false
				def["outlierDetection"] = od
			}
			w.add("kuma.io/v1alpha1", "MeshCircuitBreaker", t.Namespace, policyName(t.KubeService, "circuit-breaker"), to(def))
		}
	}
	if wrote {
		w.warn("kuma: timeouts, retries and circuit breakers target each Service's MeshService, which the Mesh makes only with meshServices.mode Exclusive or Everywhere")
	}
}
