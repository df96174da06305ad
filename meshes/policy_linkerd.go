package meshes

import (
	"fmt"
	"strings"
	"time"
)

// policyLinkerdRetryOn maps neutral retry conditions to the values of
// Linkerd's retry.linkerd.io/http annotation. Linkerd retries failed
// connections by itself and has no knob for resets or refused streams:
// those conditions are missing here and warned about.
var policyLinkerdRetryOn = map[string]string{
	"5xx": "5xx", "gateway-error": "gateway-error", "retriable-4xx": "409",
}

// policyLinkerd writes no objects: Linkerd takes timeouts, retries and
// failure accrual as annotations on the Service (PolicyAnnotations) and
// strict mTLS as the namespace's default inbound policy
// (PolicyNamespaceAnnotations). Here it only warns about what Linkerd
// cannot express.
func policyLinkerd(w *policyWriter, p *Policy, targets []PolicyTarget) {
	if p.MTLS == "strict" {
		w.warn("linkerd: strict mtls sets the namespace's default inbound policy to all-authenticated: clients outside the mesh (an ingress without a proxy, a load generator) are refused")
	}
	for _, t := range targets {
		sp := policyRequests(w, p, t)
		if r := sp.Retries; r != nil {
			for _, c := range r.On {
				if _, ok := policyLinkerdRetryOn[c]; !ok {
					w.warn("%s: retries.on %q is not set: Linkerd has no such retry condition (it retries failed connections by itself)", t.Service, c)
				}
			}
		}
		if cb := sp.CircuitBreaker; cb != nil {
			if cb.MaxConnections > 0 || cb.MaxPendingRequests > 0 {
				w.warn("%s: circuitBreaker.maxConnections and maxPendingRequests are not set: Linkerd has no connection limits", t.Service)
			}
			if cb.Interval != "" {
				w.warn("%s: circuitBreaker.interval is not set: Linkerd's failure accrual counts errors in a row, with no interval", t.Service)
			}
		}
	}
}

// PolicyAnnotations returns the annotations that carry p on target t's
// Service for meshes configured that way (Linkerd: retry.linkerd.io/*,
// timeout.linkerd.io/request, balancer.linkerd.io/failure-accrual*), nil
// for the others. They are to be merged into the Service's own annotations.
// p must have been validated (PolicyObjects does); PolicyObjects gives the
// warnings for what is left out.
func PolicyAnnotations(mesh string, p *Policy, t PolicyTarget) map[string]string {
	if mesh != Linkerd || p == nil {
		return nil
	}
	sp := policyFor(p, t.Service)
	if !policyL7(t) {
		sp.Timeout, sp.Retries = "", nil
	}
	ann := map[string]string{}
	if sp.Timeout != "" {
		ann["timeout.linkerd.io/request"] = policyLinkerdDuration(sp.Timeout)
	}
	if r := sp.Retries; r != nil {
		ann["retry.linkerd.io/limit"] = fmt.Sprint(r.Attempts)
		if r.PerTryTimeout != "" {
			ann["retry.linkerd.io/timeout"] = policyLinkerdDuration(r.PerTryTimeout)
		}
		on := []string{}
		for _, c := range r.On {
			if v, ok := policyLinkerdRetryOn[c]; ok {
				on = append(on, v)
			}
		}
		if len(r.On) == 0 {
			on = append(on, "5xx") // Linkerd retries only what the annotation names
		}
		if len(on) > 0 {
			ann["retry.linkerd.io/http"] = strings.Join(on, ",")
		}
	}
	if cb := sp.CircuitBreaker; cb != nil && (cb.ConsecutiveErrors > 0 || cb.BaseEjectionTime != "") {
		ann["balancer.linkerd.io/failure-accrual"] = "consecutive"
		if cb.ConsecutiveErrors > 0 {
			ann["balancer.linkerd.io/failure-accrual-consecutive-max-failures"] = fmt.Sprint(cb.ConsecutiveErrors)
		}
		if cb.BaseEjectionTime != "" {
			ann["balancer.linkerd.io/failure-accrual-consecutive-min-penalty"] = policyLinkerdDuration(cb.BaseEjectionTime)
		}
	}
	if len(ann) == 0 {
		return nil
	}
	return ann
}

// PolicyNamespaceAnnotations returns the annotations that carry p on the
// app's namespace (Linkerd: strict mTLS as the default inbound policy
// all-authenticated, read when pods are injected), nil for other meshes.
func PolicyNamespaceAnnotations(mesh string, p *Policy) map[string]string {
	if mesh != Linkerd || p == nil {
		return nil
	}
	switch p.MTLS {
	case "strict":
		return map[string]string{"config.linkerd.io/default-inbound-policy": "all-authenticated"}
	case "permissive":
		return map[string]string{"config.linkerd.io/default-inbound-policy": "all-unauthenticated"}
	}
	return nil
}

// policyLinkerdDuration writes a validated duration as whole seconds or
// milliseconds, the forms Linkerd's annotations read.
func policyLinkerdDuration(s string) string {
	d := policyDuration(s)
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}
