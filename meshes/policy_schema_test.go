package meshes

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// policyCRDDirs are where the meshes' CRDs are found: the charts shared
// with the test environment and the istio.io/istio module, when present.
func policyCRDDirs(t *testing.T) []string {
	dirs := []string{"../../shared/charts/consul/templates", "../../shared/charts/kuma/crds", "../../shared/charts/linkerd-crds/templates/policy"}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		m, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "istio.io", "istio@*", "manifests", "charts", "base", "files"))
		dirs = append(dirs, m...)
	}
	var found []string
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			found = append(found, d)
		}
	}
	return found
}

var (
	policyTemplateLine = regexp.MustCompile(`(?m)^\s*\{\{[^}]*\}\}\s*$`)
	policyTemplate     = regexp.MustCompile(`\{\{[^}]*\}\}`)
)

// policySchemas maps "group/version Kind" to the CRD's OpenAPI schema.
func policySchemas(t *testing.T) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, dir := range policyCRDDirs(t) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil || !bytes.Contains(data, []byte("kind: CustomResourceDefinition")) {
				continue
			}
			data = policyTemplateLine.ReplaceAll(data, nil)
			data = policyTemplate.ReplaceAll(data, []byte("x"))
			dec := yaml.NewDecoder(bytes.NewReader(data))
			for {
				var crd struct {
					Kind string
					Spec struct {
						Group    string
						Names    struct{ Kind string }
						Versions []struct {
							Name   string
							Schema struct {
								OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
							}
						}
					}
				}
				if err := dec.Decode(&crd); err != nil {
					break
				}
				for _, v := range crd.Spec.Versions {
					out[crd.Spec.Group+"/"+v.Name+" "+crd.Spec.Names.Kind] = v.Schema.OpenAPIV3Schema
				}
			}
		}
	}
	return out
}

// policyCheckSchema reports every field of v that schema s does not have,
// and every value of the wrong type or outside an enum.
func policyCheckSchema(path string, v any, s map[string]any) []string {
	var bad []string
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || reflect.DeepEqual(e, v)
		}
		if !found {
			bad = append(bad, path+": not in the enum")
		}
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		addl, _ := s["additionalProperties"].(map[string]any)
		for k, val := range v {
			ps, ok := props[k].(map[string]any)
			if !ok && addl != nil {
				ps, ok = addl, true
			}
			if !ok {
				if s["x-kubernetes-preserve-unknown-fields"] == true {
					continue
				}
				bad = append(bad, path+"."+k+": no such field")
				continue
			}
			bad = append(bad, policyCheckSchema(path+"."+k, val, ps)...)
		}
	case []any:
		items, _ := s["items"].(map[string]any)
		for _, it := range v {
			bad = append(bad, policyCheckSchema(path+"[]", it, items)...)
		}
	case string:
		if tp, _ := s["type"].(string); tp != "" && tp != "string" {
			bad = append(bad, path+": a string, schema says "+tp)
		}
	case int64:
		if tp, _ := s["type"].(string); tp != "" && tp != "integer" && tp != "number" {
			bad = append(bad, path+": an integer, schema says "+tp)
		}
	case bool:
		if tp, _ := s["type"].(string); tp != "" && tp != "boolean" {
			bad = append(bad, path+": a boolean, schema says "+tp)
		}
	}
	return bad
}

// TestPolicyObjectsMatchCRDs checks every object PolicyObjects writes for
// the example against its mesh's CRD schema: field names, types, enums.
func TestPolicyObjectsMatchCRDs(t *testing.T) {
	schemas := policySchemas(t)
	if len(schemas) == 0 {
		t.Skip("no mesh CRDs found next to the repository (../../shared/charts) or in the module cache")
	}
	for _, mesh := range []string{Istio, IstioAmbient, Consul, Kuma} {
		objs, _, err := PolicyObjects(mesh, policyExample(t), policyTargets)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			key := o.GetAPIVersion() + " " + o.GetKind()
			s, ok := schemas[key]
			if !ok {
				t.Logf("%s: no CRD found for %s, not checked", mesh, key)
				continue
			}
			spec, _ := s["properties"].(map[string]any)["spec"].(map[string]any)
			for _, b := range policyCheckSchema(o.GetKind()+"/"+o.GetName()+" spec", o.Object["spec"], spec) {
				t.Errorf("%s: %s", mesh, b)
			}
		}
	}
}

// TestPolicyCheckSchemaFails keeps the schema check honest: a wrong field
// name, type and enum value must each be found.
func TestPolicyCheckSchemaFails(t *testing.T) {
	s := map[string]any{"type": "object", "properties": map[string]any{
		"mode":     map[string]any{"type": "string", "enum": []any{"STRICT"}},
		"attempts": map[string]any{"type": "integer"},
	}}
	got := policyCheckSchema("spec", map[string]any{"mode": "strict", "attempts": "3", "tries": int64(1)}, s)
	if len(got) != 3 {
		t.Errorf("found %q, want 3 problems", got)
	}
}

// TestPolicyTagsAgree: ParsePolicy checks keys by json tag and decodes by
// yaml tag, so the two must name every field alike.
func TestPolicyTagsAgree(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[Policy](), reflect.TypeFor[ServicePolicy](), reflect.TypeFor[Retries](), reflect.TypeFor[CircuitBreaker]()} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			j, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			y, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if j == "" || j != y {
				t.Errorf("%s.%s: json %q, yaml %q", typ.Name(), f.Name, j, y)
			}
		}
	}
}
