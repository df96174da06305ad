package meshes

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/meshdock/meshdock"
)

// Policy is an app's traffic rules written once for every mesh.
type Policy struct {
	// MTLS is "strict", "permissive" or "" (the mesh's default).
	MTLS string `json:"mtls,omitempty" yaml:"mtls"`
	// Defaults apply to every service.
	Defaults ServicePolicy `json:"defaults,omitempty" yaml:"defaults"`
	// Services are keyed by compose service name. A service's Timeout,
	// Retries and CircuitBreaker each replace the default one as a whole
	// when set, so a service can change its retries without restating
	// its timeout.
	Services map[string]ServicePolicy `json:"services,omitempty" yaml:"services"`
}

// ServicePolicy is what a policy says about calls to one service.
type ServicePolicy struct {
	// Timeout bounds a whole request, retries included: a Go or
	// Kubernetes duration such as "5s" or "1m30s".
	Timeout        string          `json:"timeout,omitempty" yaml:"timeout"`
	Retries        *Retries        `json:"retries,omitempty" yaml:"retries"`
	CircuitBreaker *CircuitBreaker `json:"circuitBreaker,omitempty" yaml:"circuitBreaker"`
}

// Retries says how often a failed request is tried again.
type Retries struct {
	// Attempts is the number of retries after the first try, 1 to 10.
	Attempts      int    `json:"attempts" yaml:"attempts"`
	PerTryTimeout string `json:"perTryTimeout,omitempty" yaml:"perTryTimeout"`
	// On lists the conditions that cause a retry, by neutral name (see
	// PolicyRetryConditions); empty leaves the choice to the mesh.
	On []string `json:"on,omitempty" yaml:"on"`
}

// CircuitBreaker limits the load sent to a service and ejects its
// failing endpoints for a while.
type CircuitBreaker struct {
	MaxConnections     int `json:"maxConnections,omitempty" yaml:"maxConnections"`
	MaxPendingRequests int `json:"maxPendingRequests,omitempty" yaml:"maxPendingRequests"`
	// ConsecutiveErrors ejects an endpoint after that many errors in a row.
	ConsecutiveErrors int    `json:"consecutiveErrors,omitempty" yaml:"consecutiveErrors"`
	Interval          string `json:"interval,omitempty" yaml:"interval"`
	BaseEjectionTime  string `json:"baseEjectionTime,omitempty" yaml:"baseEjectionTime"`
}

// PolicyRetryConditions are the neutral retry conditions a policy may name.
// They are Envoy's names, which every mesh here maps from.
var PolicyRetryConditions = []string{"5xx", "gateway-error", "connect-failure", "reset", "retriable-4xx", "refused-stream"}

// policyMaxDuration bounds every duration of a policy: longer ones are
// mistakes, not traffic rules.
const policyMaxDuration = time.Hour

// policyIssue is one thing wrong with a policy, at a field path such as
// "services.api.retries.attempts".
type policyIssue struct {
	path, msg string
}

func (i policyIssue) String() string { return i.path + ": " + i.msg }

// Validate checks a policy against the app's compose services: every value
// in range, every duration parseable, positive and at most an hour, every
// service named in services. The error is EINVALID and names each field.
func (p *Policy) Validate(services []string) error {
	return policyError("policy", p.issues(services), nil)
}

// policyError joins issues into one EINVALID error; line, when not nil,
// gives the line of a path in the file called name.
func policyError(name string, issues []policyIssue, line func(path string) int) error {
	if len(issues) == 0 {
		return nil
	}
	msgs := make([]string, len(issues))
	for i, is := range issues {
		at := name
		if line != nil {
			if l := line(is.path); l > 0 {
				at = fmt.Sprintf("%s:%d", name, l)
			}
		}
		msgs[i] = at + ": " + is.String()
	}
	return meshdock.Errorf(meshdock.EINVALID, "%s", strings.Join(msgs, "; "))
}

// issues lists what is wrong with p; services nil skips the check of names.
func (p *Policy) issues(services []string) []policyIssue {
	var out []policyIssue
	switch p.MTLS {
	case "", "strict", "permissive":
	default:
		out = append(out, policyIssue{"mtls", fmt.Sprintf("must be \"strict\" or \"permissive\", not %q", p.MTLS)})
	}
	out = append(out, p.Defaults.issues("defaults")...)
	for _, name := range policyServiceNames(p) {
		path := "services." + name
		if services != nil && !slices.Contains(services, name) {
			known := slices.Clone(services)
			sort.Strings(known)
			out = append(out, policyIssue{path, fmt.Sprintf("no such service in the app (services: %s)", strings.Join(known, ", "))})
		}
		out = append(out, p.Services[name].issues(path)...)
	}
	return out
}

// policyServiceNames returns the services a policy names, sorted.
func policyServiceNames(p *Policy) []string {
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s ServicePolicy) issues(path string) []policyIssue {
	var out []policyIssue
	out = policyCheckDuration(out, path+".timeout", s.Timeout)
	if r := s.Retries; r != nil {
		rp := path + ".retries"
		if r.Attempts < 1 || r.Attempts > 10 {
			out = append(out, policyIssue{rp + ".attempts", fmt.Sprintf("must be between 1 and 10, not %d", r.Attempts)})
		}
		out = policyCheckDuration(out, rp+".perTryTimeout", r.PerTryTimeout)
		seen := map[string]bool{}
		for i, c := range r.On {
			cp := fmt.Sprintf("%s.on[%d]", rp, i)
			switch {
			case !slices.Contains(PolicyRetryConditions, c):
				out = append(out, policyIssue{cp, fmt.Sprintf("unknown retry condition %q (known: %s)", c, strings.Join(PolicyRetryConditions, ", "))})
			case seen[c]:
				out = append(out, policyIssue{cp, fmt.Sprintf("%q is listed twice", c)})
			}
			seen[c] = true
		}
		if s.Timeout != "" && r.PerTryTimeout != "" {
			t, err1 := time.ParseDuration(s.Timeout)
			pt, err2 := time.ParseDuration(r.PerTryTimeout)
			if err1 == nil && err2 == nil && pt > t {
				out = append(out, policyIssue{rp + ".perTryTimeout", fmt.Sprintf("%s is longer than the request timeout %s", r.PerTryTimeout, s.Timeout)})
			}
		}
	}
	if cb := s.CircuitBreaker; cb != nil {
		cp := path + ".circuitBreaker"
		if *cb == (CircuitBreaker{}) {
			out = append(out, policyIssue{cp, "sets nothing: give at least one field or leave it out"})
		}
		for _, f := range []struct {
			name string
			v    int
		}{{"maxConnections", cb.MaxConnections}, {"maxPendingRequests", cb.MaxPendingRequests}, {"consecutiveErrors", cb.ConsecutiveErrors}} {
			if f.v < 0 || f.v > math.MaxInt32 {
				out = append(out, policyIssue{cp + "." + f.name, fmt.Sprintf("must be between 1 and %d, not %d", math.MaxInt32, f.v)})
			}
		}
		out = policyCheckDuration(out, cp+".interval", cb.Interval)
		out = policyCheckDuration(out, cp+".baseEjectionTime", cb.BaseEjectionTime)
	}
	return out
}

// policyCheckDuration appends an issue when s is set and is not a Go
// duration of whole milliseconds between 1ms and policyMaxDuration.
func policyCheckDuration(out []policyIssue, path, s string) []policyIssue {
	if s == "" {
		return out
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return append(out, policyIssue{path, fmt.Sprintf("%q is not a duration (write it like \"5s\", \"250ms\" or \"1m30s\")", s)})
	case d <= 0:
		return append(out, policyIssue{path, fmt.Sprintf("%q must be positive", s)})
	case d > policyMaxDuration:
		return append(out, policyIssue{path, fmt.Sprintf("%q is longer than %s", s, policyMaxDuration)})
	case d%time.Millisecond != 0:
		return append(out, policyIssue{path, fmt.Sprintf("%q must be a whole number of milliseconds", s)})
	}
	return out
}

// policyFor is the policy of one service: the defaults with the service's
// own fields in their place.
func policyFor(p *Policy, service string) ServicePolicy {
	sp := p.Defaults
	own, ok := p.Services[service]
	if !ok {
		return sp
	}
	if own.Timeout != "" {
		sp.Timeout = own.Timeout
	}
	if own.Retries != nil {
		sp.Retries = own.Retries
	}
	if own.CircuitBreaker != nil {
		sp.CircuitBreaker = own.CircuitBreaker
	}
	return sp
}

// policyDuration parses a duration Validate has accepted.
func policyDuration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}

// policySeconds writes a validated duration as decimal seconds ("90s",
// "0.25s"): the protobuf JSON form Istio needs, which Kuma and Consul
// (Go durations) read as well.
func policySeconds(s string) string {
	d := policyDuration(s)
	return fmt.Sprintf("%gs", d.Seconds())
}
