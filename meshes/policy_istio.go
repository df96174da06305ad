package meshes

import (
	"strings"
)

// policyIstioRetryOn maps neutral retry conditions to Istio's retryOn
// values, which Istio checks only in its webhook.
var policyIstioRetryOn = map[string]string{
	"5xx": "5xx", "gateway-error": "gateway-error", "connect-failure": "connect-failure",
	"reset": "reset", "retriable-4xx": "retriable-4xx", "refused-stream": "refused-stream",
}

// policyIstio writes a PeerAuthentication for mTLS, a VirtualService per
// service for its timeout and retries and a DestinationRule for its
// circuit breaker. Sidecars and ambient take the same objects; under
// ambient, ztunnel enforces mTLS but only a waypoint proxy applies the rest.
func policyIstio(w *policyWriter, mesh string, p *Policy, targets []PolicyTarget) {
	if p.MTLS != "" {
		mode := strings.ToUpper(p.MTLS)
		for _, ns := range policyNamespaces(targets) {
			w.add("security.istio.io/v1", "PeerAuthentication", ns, "default", map[string]any{
				"mtls": map[string]any{"mode": mode},
			})
		}
	}
	waypoint := false
	for _, t := range targets {
		sp := policyRequests(w, p, t)
		host := t.KubeService + "." + t.Namespace + ".svc.cluster.local"
		if sp.Timeout != "" || sp.Retries != nil {
			route := map[string]any{
				"route": []any{map[string]any{"destination": map[string]any{"host": host}}},
			}
			if sp.Timeout != "" {
				route["timeout"] = policySeconds(sp.Timeout)
			}
			if r := sp.Retries; r != nil {
				retries := map[string]any{"attempts": int64(r.Attempts)}
				if r.PerTryTimeout != "" {
					retries["perTryTimeout"] = policySeconds(r.PerTryTimeout)
				}
				if len(r.On) > 0 {
					on := make([]string, len(r.On))
					for i, c := range r.On {
						on[i] = policyIstioRetryOn[c]
					}
					retries["retryOn"] = strings.Join(on, ",")
				}
				route["retries"] = retries
			}
			w.add("networking.istio.io/v1", "VirtualService", t.Namespace, policyName(t.KubeService, ""), map[string]any{
				"hosts": []any{host},
				"http":  []any{route},
			})
			waypoint = true
		}
		if cb := sp.CircuitBreaker; cb != nil {
			tp := map[string]any{}
			pool := map[string]any{}
			if cb.MaxConnections > 0 {
				pool["tcp"] = map[string]any{"maxConnections": int64(cb.MaxConnections)}
			}
			if cb.MaxPendingRequests > 0 {
				pool["http"] = map[string]any{"http1MaxPendingRequests": int64(cb.MaxPendingRequests)}
			}
			if len(pool) > 0 {
				tp["connectionPool"] = pool
			}
			od := map[string]any{}
			if cb.ConsecutiveErrors > 0 {
				od["consecutive5xxErrors"] = int64(cb.ConsecutiveErrors)
			}
			if cb.Interval != "" {
				od["interval"] = policySeconds(cb.Interval)
			}
			if cb.BaseEjectionTime != "" {
				od["baseEjectionTime"] = policySeconds(cb.BaseEjectionTime)
			}
			if len(od) > 0 {
				tp["outlierDetection"] = od
			}
			w.add("networking.istio.io/v1", "DestinationRule", t.Namespace, policyName(t.KubeService, ""), map[string]any{
				"host":          host,
				"trafficPolicy": tp,
			})
			waypoint = true
		}
	}
	if mesh == IstioAmbient && waypoint {
		w.warn("istio-ambient: retries, timeouts and circuit breaking apply only through a waypoint proxy; without one, ztunnel carries the traffic and ignores them (mTLS applies either way)")
	}
}

// policyNamespaces lists the targets' namespaces, each once, in order.
func policyNamespaces(targets []PolicyTarget) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range targets {
		if !seen[t.Namespace] {
			seen[t.Namespace] = true
			out = append(out, t.Namespace)
		}
	}
	return out
}
