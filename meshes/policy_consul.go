package meshes

// policyConsul writes a ServiceRouter per service for its timeout and
// retries and a ServiceDefaults per service for its protocol, its mTLS mode
// and the circuit breakers of the services it calls. Consul config entries
// are named after the Consul service, which connect-inject takes from the
// Kubernetes Service name. The ServiceDefaults replaces the one enrolment
// writes for the same service (it carries the same protocol).
func policyConsul(w *policyWriter, p *Policy, targets []PolicyTarget) {
	if p.MTLS == "permissive" {
		w.warn("consul: permissive mtls takes effect only when the mesh config entry allows it (Mesh allowEnablingPermissiveMutualTLS: true) and only under transparent proxy")
	}
	// Consul's circuit breakers are set by the caller, per upstream: every
	// service of the app carries the breakers of all the others.
	override := func(t PolicyTarget) map[string]any {
		cb := policyFor(p, t.Service).CircuitBreaker
		if cb == nil {
			return nil
		}
		o := map[string]any{"name": t.KubeService}
		limits := map[string]any{}
		if cb.MaxConnections > 0 {
			limits["maxConnections"] = int64(cb.MaxConnections)
		}
		if cb.MaxPendingRequests > 0 {
			limits["maxPendingRequests"] = int64(cb.MaxPendingRequests)
		}
		if len(limits) > 0 {
			o["limits"] = limits
		}
		phc := map[string]any{}
		if cb.ConsecutiveErrors > 0 {
			phc["maxFailures"] = int64(cb.ConsecutiveErrors)
		}
		if cb.Interval != "" {
			phc["interval"] = policySeconds(cb.Interval)
		}
		if cb.BaseEjectionTime != "" {
			phc["baseEjectionTime"] = policySeconds(cb.BaseEjectionTime)
		}
		if len(phc) > 0 {
			o["passiveHealthCheck"] = phc
		}
		return o
	}
	breakers := false
	for _, t := range targets {
		breakers = breakers || override(t) != nil
	}
	if breakers {
		w.warn("consul: circuit breakers are set on the callers' side, so they hold for calls from this app's services only")
	}
	for _, t := range targets {
		sp := policyRequests(w, p, t)
		if (sp.Timeout != "" || sp.Retries != nil) && policyProtocol(t) == "tcp" {
			w.warn("%s: timeout and retries are not set: Consul takes the service's protocol from its first port, which is not HTTP", t.Service)
			sp.Timeout, sp.Retries = "", nil
		}
		if sp.Timeout != "" || sp.Retries != nil {
			dest := map[string]any{}
			if sp.Timeout != "" {
				dest["requestTimeout"] = policySeconds(sp.Timeout)
			}
			if r := sp.Retries; r != nil {
				dest["numRetries"] = int64(r.Attempts)
				if r.PerTryTimeout != "" {
					w.warn("%s: retries.perTryTimeout is not set: Consul has no per-try timeout, only the request timeout", t.Service)
				}
				var on []any
				for _, c := range r.On {
					if c == "connect-failure" {
						dest["retryOnConnectFailure"] = true
						continue
					}
					// Consul takes Envoy's names, as the neutral ones are.
					on = append(on, c)
				}
				if len(on) > 0 {
					dest["retryOn"] = on
				}
			}
			w.add("consul.hashicorp.com/v1alpha1", "ServiceRouter", t.Namespace, t.KubeService, map[string]any{
				"routes": []any{map[string]any{
					"match":       map[string]any{"http": map[string]any{"pathPrefix": "/"}},
					"destination": dest,
				}},
			})
		}
		spec := map[string]any{"protocol": policyProtocol(t)}
		if p.MTLS != "" {
			spec["mutualTLSMode"] = p.MTLS
		}
		var own []any
		for _, u := range targets {
			if o := override(u); o != nil && u.KubeService != t.KubeService {
				own = append(own, o)
			}
		}
		if len(own) > 0 {
			spec["upstreamConfig"] = map[string]any{"overrides": own}
		}
		if p.MTLS != "" || spec["upstreamConfig"] != nil {
			w.add("consul.hashicorp.com/v1alpha1", "ServiceDefaults", t.Namespace, t.KubeService, spec)
		}
	}
}
