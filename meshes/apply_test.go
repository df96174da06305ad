package meshes

import (
	"strings"
	"testing"
)

// A policy adds the mesh's objects and annotations to the enrolment, and
// Consul's policy ServiceDefaults replaces the enrolment's of the same name.
func TestEnrollWithPolicy(t *testing.T) {
	p, err := ParsePolicy("policy.yaml", []byte("mtls: strict\ndefaults:\n  timeout: 5s\n  retries: {attempts: 3, perTryTimeout: 1s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	in := objs(t)
	for _, o := range in {
		if isService(o) && o.GetLabels()["meshdock.io/exposes"] == "" {
			labels := o.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels["meshdock.io/service"] = o.GetName()
			o.SetLabels(labels)
		}
	}
	for _, tt := range []struct {
		mesh, kind, warning string
	}{
		{Istio, "VirtualService", ""},
		{Kuma, "MeshRetry", ""},
		{Consul, "ServiceRouter", "per-try"},
		{None, "", "without a mesh"},
	} {
		t.Run(tt.mesh, func(t *testing.T) {
			m, _ := Get(tt.mesh)
			e, warnings, err := EnrollWithPolicy(m, "shop", in, p)
			if err != nil {
				t.Fatal(err)
			}
			if tt.kind != "" && find(e.Objects, tt.kind, "api") == nil && !hasKind(e, tt.kind) {
				t.Errorf("no %s among %d objects", tt.kind, len(e.Objects))
			}
			if tt.warning != "" && !strings.Contains(strings.ToLower(strings.Join(warnings, "\n")), tt.warning) {
				t.Errorf("warnings %v do not say %q", warnings, tt.warning)
			}
			seen := map[string]bool{}
			for _, o := range e.Objects {
				k := o.GetKind() + "/" + o.GetName()
				if seen[k] {
					t.Errorf("%s twice", k)
				}
				seen[k] = true
			}
		})
	}
	m, _ := Get(Linkerd)
	e, _, err := EnrollWithPolicy(m, "shop", in, p)
	if err != nil {
		t.Fatal(err)
	}
	if e.NamespaceAnnotations["config.linkerd.io/default-inbound-policy"] != "all-authenticated" || e.NamespaceAnnotations["linkerd.io/inject"] != "enabled" {
		t.Errorf("linkerd namespace annotations: %v", e.NamespaceAnnotations)
	}
	if find(e.Objects, "Service", "api").GetAnnotations()["timeout.linkerd.io/request"] == "" {
		t.Errorf("linkerd service annotations: %v", find(e.Objects, "Service", "api").GetAnnotations())
	}
}

func hasKind(e *Enrolment, kind string) bool {
	for _, o := range e.Objects {
		if o.GetKind() == kind {
			return true
		}
	}
	return false
}
