package meshes

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdock/meshdock"
)

const policyExampleYAML = `mtls: strict
defaults:
  timeout: 10s
services:
  api:
    timeout: 1m30s
    retries:
      attempts: 3
      perTryTimeout: 250ms
      on: [5xx, connect-failure]
    circuitBreaker:
      maxConnections: 100
      maxPendingRequests: 10
      consecutiveErrors: 5
      interval: 10s
      baseEjectionTime: 30s
`

const policyExampleJSON = `{"mtls": "strict", "defaults": {"timeout": "10s"},
 "services": {"api": {"timeout": "1m30s",
  "retries": {"attempts": 3, "perTryTimeout": "250ms", "on": ["5xx", "connect-failure"]},
  "circuitBreaker": {"maxConnections": 100, "maxPendingRequests": 10, "consecutiveErrors": 5, "interval": "10s", "baseEjectionTime": "30s"}}}}`

var policyTargets = []PolicyTarget{
	{Service: "api", KubeService: "api", Namespace: "shop", Ports: []PolicyPort{{Name: "http-8080", Port: 8080, AppProtocol: "http"}}},
	{Service: "web_ui", KubeService: "web-ui", Namespace: "shop", Ports: []PolicyPort{{Name: "http", Port: 80}}},
}

func TestParsePolicyYAMLAndJSON(t *testing.T) {
	want := &Policy{
		MTLS:     "strict",
		Defaults: ServicePolicy{Timeout: "10s"},
		Services: map[string]ServicePolicy{"api": {
			Timeout:        "1m30s",
			Retries:        &Retries{Attempts: 3, PerTryTimeout: "250ms", On: []string{"5xx", "connect-failure"}},
			CircuitBreaker: &CircuitBreaker{MaxConnections: 100, MaxPendingRequests: 10, ConsecutiveErrors: 5, Interval: "10s", BaseEjectionTime: "30s"},
		}},
	}
	for _, tc := range []struct{ name, data string }{
		{"policy.yaml", policyExampleYAML},
		{"policy.json", policyExampleJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePolicy(tc.name, []byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
			if err := got.Validate([]string{"api", "web_ui"}); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
	p, err := ParsePolicy("empty.yaml", nil)
	if err != nil || !reflect.DeepEqual(p, &Policy{}) {
		t.Errorf("empty file: %+v, %v", p, err)
	}
}

func TestParsePolicyRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []string // every one must be in the message
	}{
		{"unknown top key", "mtls: strict\nretry: {}\n", []string{"p.yaml:2: retry: unknown key"}},
		{"unknown nested key", "services:\n  api:\n    retries:\n      attempts: 2\n      tries: 3\n", []string{"p.yaml:5: services.api.retries.tries: unknown key"}},
		{"unknown json key", `{"defaults": {"circuitBreaker": {"maxConns": 1}}}`, []string{"p.yaml:1: defaults.circuitBreaker.maxConns: unknown key"}},
		{"attempts 0", "services:\n  api:\n    retries:\n      attempts: 0\n", []string{"p.yaml:4: services.api.retries.attempts: must be between 1 and 10"}},
		{"attempts 11", "defaults:\n  retries: {attempts: 11}\n", []string{"p.yaml:2: defaults.retries.attempts: must be between 1 and 10, not 11"}},
		{"attempts missing", "defaults:\n  retries: {perTryTimeout: 1s}\n", []string{"defaults.retries.attempts: must be between 1 and 10, not 0"}},
		{"attempts a string", "defaults:\n  retries: {attempts: three}\n", []string{"p.yaml:2: defaults.retries.attempts: must be a whole number"}},
		{"negative timeout", "defaults:\n  timeout: -5s\n", []string{"p.yaml:2: defaults.timeout: \"-5s\" must be positive"}},
		{"zero timeout", "defaults:\n  timeout: 0s\n", []string{"defaults.timeout: \"0s\" must be positive"}},
		{"unparseable timeout", "services:\n  api:\n    timeout: five seconds\n", []string{"p.yaml:3: services.api.timeout: \"five seconds\" is not a duration"}},
		{"number as timeout", "defaults:\n  timeout: 5\n", []string{"defaults.timeout: must be a string"}},
		{"timeout over an hour", "defaults:\n  timeout: 2h\n", []string{"defaults.timeout: \"2h\" is longer than 1h0m0s"}},
		{"sub-millisecond", "defaults:\n  timeout: 1500us\n", []string{"defaults.timeout: \"1500us\" must be a whole number of milliseconds"}},
		{"bad per-try timeout", "defaults:\n  retries: {attempts: 1, perTryTimeout: 1x}\n", []string{"defaults.retries.perTryTimeout: \"1x\" is not a duration"}},
		{"per-try over timeout", "defaults:\n  timeout: 1s\n  retries: {attempts: 1, perTryTimeout: 2s}\n", []string{"defaults.retries.perTryTimeout: 2s is longer than the request timeout 1s"}},
		{"bad interval", "defaults:\n  circuitBreaker: {interval: -1s}\n", []string{"defaults.circuitBreaker.interval: \"-1s\" must be positive"}},
		{"bad ejection", "defaults:\n  circuitBreaker: {baseEjectionTime: soon}\n", []string{"defaults.circuitBreaker.baseEjectionTime: \"soon\" is not a duration"}},
		{"negative connections", "defaults:\n  circuitBreaker: {maxConnections: -1}\n", []string{"defaults.circuitBreaker.maxConnections: must be between 1"}},
		{"empty circuit breaker", "defaults:\n  circuitBreaker: {}\n", []string{"defaults.circuitBreaker: sets nothing"}},
		{"unknown retry condition", "defaults:\n  retries:\n    attempts: 1\n    on:\n      - 5xx\n      - teapot\n", []string{"p.yaml:6: defaults.retries.on[1]: unknown retry condition \"teapot\""}},
		{"istio-only condition", "defaults:\n  retries: {attempts: 1, on: [retriable-status-codes]}\n", []string{"defaults.retries.on[0]: unknown retry condition"}},
		{"twice listed condition", "defaults:\n  retries: {attempts: 1, on: [reset, reset]}\n", []string{"defaults.retries.on[1]: \"reset\" is listed twice"}},
		{"mtls maybe", "mtls: maybe\n", []string{"p.yaml:1: mtls: must be \"strict\" or \"permissive\", not \"maybe\""}},
		{"mtls upper case", "mtls: STRICT\n", []string{"mtls: must be \"strict\""}},
		{"duplicate key", "mtls: strict\nmtls: permissive\n", []string{"p.yaml:2: mtls: is given twice"}},
		{"services a list", "services: [api]\n", []string{"services: must be a mapping"}},
		{"alias", "defaults: &d\n  timeout: 1s\nservices:\n  api: *d\n", []string{"anchors and aliases are not supported"}},
		{"two documents", "mtls: strict\n---\nmtls: strict\n", []string{"more than one document"}},
		{"not yaml", "mtls: [\n", []string{"p.yaml: not YAML or JSON"}},
		{"several issues", "mtls: maybe\ndefaults:\n  retries: {attempts: 0}\n", []string{"p.yaml:1: mtls:", "p.yaml:3: defaults.retries.attempts:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy("p.yaml", []byte(tc.data))
			if err == nil {
				t.Fatal("accepted")
			}
			if code := meshdock.ErrorCode(err); code != meshdock.EINVALID {
				t.Errorf("code %q, want invalid: %v", code, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
		})
	}
}

func TestParsePolicyTooLarge(t *testing.T) {
	_, err := ParsePolicy("p.yaml", make([]byte, policyMaxBytes+1))
	if meshdock.ErrorCode(err) != meshdock.ETOOLARGE {
		t.Errorf("got %v, want too_large", err)
	}
}

func TestValidateServices(t *testing.T) {
	p := &Policy{Services: map[string]ServicePolicy{"api": {Timeout: "1s"}, "cache": {Timeout: "1s"}}}
	err := p.Validate([]string{"web", "api"})
	if err == nil {
		t.Fatal("unknown service accepted")
	}
	if !strings.Contains(err.Error(), "services.cache: no such service in the app (services: api, web)") || strings.Contains(err.Error(), "services.api") {
		t.Errorf("error %q", err)
	}
	if err := p.Validate([]string{"api", "cache"}); err != nil {
		t.Errorf("known services refused: %v", err)
	}
	_, _, err = PolicyObjects(Istio, p, policyTargets)
	if err == nil || !strings.Contains(err.Error(), "services.cache") {
		t.Errorf("PolicyObjects of an unknown service: %v", err)
	}
}

func policyExample(t *testing.T) *Policy {
	t.Helper()
	p, err := ParsePolicy("policy.yaml", []byte(policyExampleYAML))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// policyField is one expected value of one produced object.
type policyField struct {
	kind, name string
	path       string // dot-separated; [n] picks a list item
	want       any
}

func TestPolicyObjects(t *testing.T) {
	for _, tc := range []struct {
		mesh   string
		kinds  []string // apiVersion kind/name, in order
		fields []policyField
	}{
		{Istio, []string{
			"security.istio.io/v1 PeerAuthentication/default",
			"networking.istio.io/v1 VirtualService/api",
			"networking.istio.io/v1 DestinationRule/api",
			"networking.istio.io/v1 VirtualService/web-ui",
		}, []policyField{
			{"PeerAuthentication", "default", "spec.mtls.mode", "STRICT"},
			{"VirtualService", "api", "spec.hosts[0]", "api.shop.svc.cluster.local"},
			{"VirtualService", "api", "spec.http[0].route[0].destination.host", "api.shop.svc.cluster.local"},
			{"VirtualService", "api", "spec.http[0].timeout", "90s"},
			{"VirtualService", "api", "spec.http[0].retries.attempts", int64(3)},
			{"VirtualService", "api", "spec.http[0].retries.perTryTimeout", "0.25s"},
			{"VirtualService", "api", "spec.http[0].retries.retryOn", "5xx,connect-failure"},
			{"VirtualService", "web-ui", "spec.http[0].timeout", "10s"},
			{"VirtualService", "web-ui", "spec.http[0].retries", nil},
			{"DestinationRule", "api", "spec.host", "api.shop.svc.cluster.local"},
			{"DestinationRule", "api", "spec.trafficPolicy.connectionPool.tcp.maxConnections", int64(100)},
			{"DestinationRule", "api", "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests", int64(10)},
			{"DestinationRule", "api", "spec.trafficPolicy.outlierDetection.consecutive5xxErrors", int64(5)},
			{"DestinationRule", "api", "spec.trafficPolicy.outlierDetection.interval", "10s"},
			{"DestinationRule", "api", "spec.trafficPolicy.outlierDetection.baseEjectionTime", "30s"},
		}},
		{IstioAmbient, []string{
			"security.istio.io/v1 PeerAuthentication/default",
			"networking.istio.io/v1 VirtualService/api",
			"networking.istio.io/v1 DestinationRule/api",
			"networking.istio.io/v1 VirtualService/web-ui",
		}, []policyField{
			{"PeerAuthentication", "default", "metadata.namespace", "shop"},
		}},
		{Linkerd, nil, nil},
		{None, nil, nil},
		{Consul, []string{
			"consul.hashicorp.com/v1alpha1 ServiceRouter/api",
			"consul.hashicorp.com/v1alpha1 ServiceDefaults/api",
			"consul.hashicorp.com/v1alpha1 ServiceRouter/web-ui",
			"consul.hashicorp.com/v1alpha1 ServiceDefaults/web-ui",
		}, []policyField{
			{"ServiceRouter", "api", "spec.routes[0].match.http.pathPrefix", "/"},
			{"ServiceRouter", "api", "spec.routes[0].destination.requestTimeout", "90s"},
			{"ServiceRouter", "api", "spec.routes[0].destination.numRetries", int64(3)},
			{"ServiceRouter", "api", "spec.routes[0].destination.retryOnConnectFailure", true},
			{"ServiceRouter", "api", "spec.routes[0].destination.retryOn", []any{"5xx"}},
			{"ServiceRouter", "web-ui", "spec.routes[0].destination.requestTimeout", "10s"},
			{"ServiceDefaults", "api", "spec.protocol", "http"},
			{"ServiceDefaults", "api", "spec.mutualTLSMode", "strict"},
			{"ServiceDefaults", "api", "spec.upstreamConfig", nil},
			{"ServiceDefaults", "web-ui", "spec.upstreamConfig.overrides[0].name", "api"},
			{"ServiceDefaults", "web-ui", "spec.upstreamConfig.overrides[0].limits.maxConnections", int64(100)},
			{"ServiceDefaults", "web-ui", "spec.upstreamConfig.overrides[0].limits.maxPendingRequests", int64(10)},
			{"ServiceDefaults", "web-ui", "spec.upstreamConfig.overrides[0].passiveHealthCheck.maxFailures", int64(5)},
			{"ServiceDefaults", "web-ui", "spec.upstreamConfig.overrides[0].passiveHealthCheck.interval", "10s"},
			{"ServiceDefaults", "web-ui", "spec.upstreamConfig.overrides[0].passiveHealthCheck.baseEjectionTime", "30s"},
		}},
		{Kuma, []string{
			"kuma.io/v1alpha1 MeshTLS/meshdock-mtls",
			"kuma.io/v1alpha1 MeshTimeout/api-timeout",
			"kuma.io/v1alpha1 MeshRetry/api-retry",
			"kuma.io/v1alpha1 MeshCircuitBreaker/api-circuit-breaker",
			"kuma.io/v1alpha1 MeshTimeout/web-ui-timeout",
		}, []policyField{
			{"MeshTLS", "meshdock-mtls", "spec.targetRef.kind", "Mesh"},
			{"MeshTLS", "meshdock-mtls", "spec.from[0].default.mode", "Strict"},
			{"MeshTimeout", "api-timeout", "spec.to[0].targetRef.kind", "MeshService"},
			{"MeshTimeout", "api-timeout", "spec.to[0].targetRef.name", "api"},
			{"MeshTimeout", "api-timeout", "spec.to[0].targetRef.namespace", "shop"},
			{"MeshTimeout", "api-timeout", "spec.to[0].default.http.requestTimeout", "90s"},
			{"MeshTimeout", "web-ui-timeout", "spec.to[0].targetRef.name", "web-ui"},
			{"MeshRetry", "api-retry", "spec.to[0].default.http.numRetries", int64(3)},
			{"MeshRetry", "api-retry", "spec.to[0].default.http.perTryTimeout", "0.25s"},
			{"MeshRetry", "api-retry", "spec.to[0].default.http.retryOn", []any{"5XX", "ConnectFailure"}},
			{"MeshCircuitBreaker", "api-circuit-breaker", "spec.to[0].default.connectionLimits.maxConnections", int64(100)},
			{"MeshCircuitBreaker", "api-circuit-breaker", "spec.to[0].default.connectionLimits.maxPendingRequests", int64(10)},
			{"MeshCircuitBreaker", "api-circuit-breaker", "spec.to[0].default.outlierDetection.detectors.totalFailures.consecutive", int64(5)},
			{"MeshCircuitBreaker", "api-circuit-breaker", "spec.to[0].default.outlierDetection.interval", "10s"},
			{"MeshCircuitBreaker", "api-circuit-breaker", "spec.to[0].default.outlierDetection.baseEjectionTime", "30s"},
		}},
	} {
		t.Run(tc.mesh, func(t *testing.T) {
			objs, _, err := PolicyObjects(tc.mesh, policyExample(t), policyTargets)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GetAPIVersion()+" "+o.GetKind()+"/"+o.GetName())
				if o.GetNamespace() != "shop" {
					t.Errorf("%s/%s in namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
				}
				if l := o.GetLabels(); l["app.kubernetes.io/managed-by"] != "meshdock" || l["meshdock.io/policy"] != "true" {
					t.Errorf("%s/%s labels %v", o.GetKind(), o.GetName(), l)
				}
			}
			if !reflect.DeepEqual(kinds, tc.kinds) {
				t.Errorf("objects\n%q\nwant\n%q", kinds, tc.kinds)
			}
			for _, f := range tc.fields {
				o := policyFind(objs, f.kind, f.name)
				if o == nil {
					t.Errorf("no %s/%s", f.kind, f.name)
					continue
				}
				if got := policyGet(o.Object, f.path); !reflect.DeepEqual(got, f.want) {
					t.Errorf("%s/%s %s = %#v, want %#v", f.kind, f.name, f.path, got, f.want)
				}
			}
		})
	}
}

func policyFind(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// policyGet follows a path like "spec.http[0].timeout"; nil when absent.
func policyGet(v any, path string) any {
	for _, part := range strings.Split(path, ".") {
		key, idx, list := strings.Cut(part, "[")
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
		if list {
			var i int
			for _, c := range strings.TrimSuffix(idx, "]") {
				i = i*10 + int(c-'0')
			}
			l, ok := v.([]any)
			if !ok || i >= len(l) {
				return nil
			}
			v = l[i]
		}
	}
	return v
}

func TestPolicyWarnings(t *testing.T) {
	for _, tc := range []struct {
		mesh string
		want []string // each must be in some warning
		not  []string // none may be in any warning
	}{
		{Istio, nil, []string{"waypoint"}},
		{IstioAmbient, []string{"only through a waypoint proxy"}, nil},
		{Consul, []string{"api: retries.perTryTimeout is not set: Consul has no per-try timeout"}, []string{"web_ui: retries"}},
		{Linkerd, []string{
			"api: retries.on \"connect-failure\" is not set",
			"api: circuitBreaker.maxConnections and maxPendingRequests are not set",
			"api: circuitBreaker.interval is not set",
			"all-authenticated",
		}, []string{"web_ui: circuitBreaker"}},
		{None, []string{
			"mtls \"strict\" is not applied",
			"api: timeout is not applied", "api: retries is not applied", "api: circuitBreaker is not applied",
			"web_ui: timeout is not applied",
		}, []string{"web_ui: retries"}},
		{Kuma, []string{"spec.mtls.enabledBackend", "meshServices.mode"}, nil},
	} {
		t.Run(tc.mesh, func(t *testing.T) {
			_, warnings, err := PolicyObjects(tc.mesh, policyExample(t), policyTargets)
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(warnings, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("warnings\n%s\nlack %q", all, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(all, w) {
					t.Errorf("warnings\n%s\nsay %q", all, w)
				}
			}
		})
	}
}

func TestPolicyAnnotations(t *testing.T) {
	p := policyExample(t)
	for _, tc := range []struct {
		mesh   string
		target PolicyTarget
		want   map[string]string
	}{
		{Linkerd, policyTargets[0], map[string]string{
			"timeout.linkerd.io/request":                                   "90s",
			"retry.linkerd.io/limit":                                       "3",
			"retry.linkerd.io/timeout":                                     "250ms",
			"retry.linkerd.io/http":                                        "5xx",
			"balancer.linkerd.io/failure-accrual":                          "consecutive",
			"balancer.linkerd.io/failure-accrual-consecutive-max-failures": "5",
			"balancer.linkerd.io/failure-accrual-consecutive-min-penalty":  "30s",
		}},
		{Linkerd, policyTargets[1], map[string]string{"timeout.linkerd.io/request": "10s"}},
		{Linkerd, PolicyTarget{Service: "db", KubeService: "db", Namespace: "shop", Ports: []PolicyPort{{Name: "tcp-5432", Port: 5432}}}, nil},
		{Istio, policyTargets[0], nil},
		{Consul, policyTargets[0], nil},
	} {
		t.Run(tc.mesh+"/"+tc.target.Service, func(t *testing.T) {
			if got := PolicyAnnotations(tc.mesh, p, tc.target); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		mesh, mtls string
		want       map[string]string
	}{
		{Linkerd, "strict", map[string]string{"config.linkerd.io/default-inbound-policy": "all-authenticated"}},
		{Linkerd, "permissive", map[string]string{"config.linkerd.io/default-inbound-policy": "all-unauthenticated"}},
		{Linkerd, "", nil},
		{Istio, "strict", nil},
	} {
		if got := PolicyNamespaceAnnotations(tc.mesh, &Policy{MTLS: tc.mtls}); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %q: got %v, want %v", tc.mesh, tc.mtls, got, tc.want)
		}
	}
}

func TestPolicyTCPService(t *testing.T) {
	db := PolicyTarget{Service: "db", KubeService: "db", Namespace: "shop", Ports: []PolicyPort{{Name: "tcp-5432", Port: 5432, AppProtocol: "http"}}}
	p := &Policy{Defaults: ServicePolicy{Timeout: "5s", CircuitBreaker: &CircuitBreaker{MaxConnections: 10}}}
	for _, mesh := range []string{Istio, Consul, Kuma} {
		objs, warnings, err := PolicyObjects(mesh, p, []PolicyTarget{db})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			switch o.GetKind() {
			case "VirtualService", "ServiceRouter", "MeshTimeout":
				t.Errorf("%s: %s for a TCP-only service", mesh, o.GetKind())
			}
		}
		if !strings.Contains(strings.Join(warnings, "\n"), "db: timeout and retries are not set") {
			t.Errorf("%s: no warning about the TCP service: %q", mesh, warnings)
		}
	}
}

func TestPolicyObjectsRefuses(t *testing.T) {
	if _, _, err := PolicyObjects("envoy", &Policy{}, policyTargets); meshdock.ErrorCode(err) != meshdock.EINVALID {
		t.Errorf("unknown mesh: %v", err)
	}
	bad := &Policy{Defaults: ServicePolicy{Retries: &Retries{Attempts: 11}}}
	if _, _, err := PolicyObjects(Kuma, bad, policyTargets); err == nil || !strings.Contains(err.Error(), "defaults.retries.attempts") {
		t.Errorf("invalid policy: %v", err)
	}
	objs, warnings, err := PolicyObjects(Istio, nil, policyTargets)
	if err != nil || len(objs) != 0 || len(warnings) != 0 {
		t.Errorf("nil policy: %v %v %v", objs, warnings, err)
	}
}

func TestPolicyName(t *testing.T) {
	long := strings.Repeat("a", 60)
	for _, tc := range []struct{ service, suffix, want string }{
		{"api", "retry", "api-retry"},
		{"api", "", "api"},
	} {
		if got := policyName(tc.service, tc.suffix); got != tc.want {
			t.Errorf("policyName(%q, %q) = %q, want %q", tc.service, tc.suffix, got, tc.want)
		}
	}
	a, b := policyName(long, "timeout"), policyName(long, "retry")
	if len(a) > 63 || len(b) > 63 || a == b || strings.HasSuffix(a, "-") {
		t.Errorf("long names %q %q", a, b)
	}
}
