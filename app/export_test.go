package app

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
	"github.com/meshdock/meshdock/meshes"
)

var exportApps = []string{"../convert/testdata/tiers", "../examples/shop"}

func exportPlan(t *testing.T, dir string) (Plan, string) {
	t.Helper()
	res, err := Convert(context.Background(), compose.Source{Dir: dir}, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Plan{Project: res.Project, Objects: res.Objects, Graph: res.Graph, Builds: res.Builds}, NamespaceFor(res.Project)
}

// canonical is an object set as sorted JSON lines, to compare.
func canonical(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	var lines []string
	for _, o := range objs {
		b, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func decodeAll(t *testing.T, text string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(text, "\n---") {
		if strings.TrimSpace(strings.TrimPrefix(doc, "---")) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%v in\n%s", err, doc)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out
}

// want is what the deploy of a variant applies, the namespace included.
func want(t *testing.T, p Plan, ns string, v variant) string {
	t.Helper()
	objs, err := renderVariant(p, ns, v)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs[1:] {
		if o.GetNamespace() != ns {
			t.Fatalf("%s is not in namespace %s", objectKey(o), ns)
		}
	}
	// Through YAML as the renderers read it: numbers as JSON numbers.
	var back []*unstructured.Unstructured
	for _, o := range objs {
		b, _ := yaml.Marshal(o.Object)
		back = append(back, decodeAll(t, string(b))...)
	}
	return canonical(t, back)
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	in := map[string]bool{}
	for _, l := range bl {
		in[l] = true
	}
	var out []string
	for _, l := range al {
		if !in[l] {
			out = append(out, "- "+l)
		}
	}
	in = map[string]bool{}
	for _, l := range al {
		in[l] = true
	}
	for _, l := range bl {
		if !in[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestExportKustomizeRendersTheDeploy renders each overlay with
// kustomize's library and compares it with what deploy applies.
func TestExportKustomizeRendersTheDeploy(t *testing.T) {
	for _, dir := range exportApps {
		p, ns := exportPlan(t, dir)
		for _, authz := range []string{meshes.AuthzOff, meshes.AuthzEnforce, meshes.AuthzAudit} {
			files, err := Export(context.Background(), p, ns, ExportOptions{Format: ExportKustomize, Mesh: meshes.Istio, Authz: authz})
			if err != nil {
				t.Fatal(err)
			}
			fs := filesys.MakeFsInMemory()
			for _, f := range files {
				if err := fs.WriteFile(path.Join("/out", f.Path), f.Data); err != nil {
					t.Fatal(err)
				}
			}
			baseAuthz := authz
			if authz == meshes.AuthzAudit {
				baseAuthz = meshes.AuthzOff
			}
			cases := map[string]variant{"base": {meshes.None, baseAuthz, false}, "overlays/" + DockerDesktop: {meshes.None, baseAuthz, true}}
			for _, m := range meshes.Names()[1:] {
				if meshes.CheckAuthz(m, authz) == nil {
					cases["overlays/"+m] = variant{m, authz, false}
				} else if _, err := fs.ReadFile("/out/overlays/" + m + "/kustomization.yaml"); err == nil {
					t.Errorf("%s: an overlay for %s, which cannot %s", p.Project, m, authz)
				}
			}
			for dir, v := range cases {
				k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
				rm, err := k.Run(fs, "/out/"+dir)
				if err != nil {
					t.Fatalf("%s %s %s: %v", p.Project, authz, dir, err)
				}
				out, err := rm.AsYaml()
				if err != nil {
					t.Fatal(err)
				}
				got := canonical(t, decodeAll(t, string(out)))
				if w := want(t, p, ns, v); got != w {
					t.Errorf("%s authz %s: %s renders other objects than the deploy applies:\n%s", p.Project, authz, dir, diffLines(w, got))
				}
			}
		}
	}
}

// TestExportHelmRendersTheDeploy renders the chart with the Helm SDK for
// every choice of values and compares it with what deploy applies.
func TestExportHelmRendersTheDeploy(t *testing.T) {
	for _, dir := range exportApps {
		p, ns := exportPlan(t, dir)
		files, err := Export(context.Background(), p, ns, ExportOptions{Format: ExportHelm, Mesh: meshes.Linkerd, Authz: meshes.AuthzEnforce})
		if err != nil {
			t.Fatal(err)
		}
		var buffered []*loader.BufferedFile
		for _, f := range files {
			buffered = append(buffered, &loader.BufferedFile{Name: f.Path, Data: f.Data})
		}
		chart, err := loader.LoadFiles(buffered)
		if err != nil {
			t.Fatal(err)
		}
		render := func(values map[string]any) (string, error) {
			vals, err := chartutil.ToRenderValues(chart, values, chartutil.ReleaseOptions{Name: "app", Namespace: ns}, nil)
			if err != nil {
				return "", err
			}
			out, err := engine.Render(chart, vals)
			if err != nil {
				return "", err
			}
			var objs []*unstructured.Unstructured
			for _, text := range out {
				objs = append(objs, decodeAll(t, text)...)
			}
			return canonical(t, objs), nil
		}
		got, err := render(nil)
		if err != nil {
			t.Fatal(err)
		}
		if w := want(t, p, ns, variant{meshes.Linkerd, meshes.AuthzEnforce, false}); got != w {
			t.Errorf("%s: the default values render other objects than the deploy:\n%s", p.Project, diffLines(w, got))
		}
		checked := 0
		for _, m := range meshes.Names() {
			for _, a := range meshes.AuthzModes() {
				for _, dd := range []bool{false, true} {
					got, err := render(map[string]any{"mesh": m, "authz": a, "dockerDesktop": dd})
					if meshes.CheckAuthz(m, a) != nil {
						if err == nil || !strings.Contains(err.Error(), "not available") {
							t.Errorf("%s %s: %v, want refused", m, a, err)
						}
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					checked++
					if w := want(t, p, ns, variant{m, a, dd}); got != w {
						t.Errorf("%s: mesh %s authz %s dockerDesktop %v renders other objects than the deploy:\n%s", p.Project, m, a, dd, diffLines(w, got))
					}
				}
			}
		}
		if checked != 30 {
			t.Errorf("%d choices checked", checked)
		}
		// The chart as exported by default (no mesh, authz off) renders
		// with its own values: YAML's off is not a boolean there.
		files, err = Export(context.Background(), p, ns, ExportOptions{Format: ExportHelm})
		if err != nil {
			t.Fatal(err)
		}
		buffered = nil
		for _, f := range files {
			buffered = append(buffered, &loader.BufferedFile{Name: f.Path, Data: f.Data})
		}
		if chart, err = loader.LoadFiles(buffered); err != nil {
			t.Fatal(err)
		}
		if got, err := render(nil); err != nil || got != want(t, p, ns, variant{meshes.None, meshes.AuthzOff, false}) {
			t.Errorf("%s: the default chart: %v", p.Project, err)
		}
		if _, err := render(map[string]any{"mesh": "cilium"}); err == nil || !strings.Contains(err.Error(), "mesh must be one of") {
			t.Errorf("mesh cilium: %v", err)
		}
	}
}

func TestExportArchives(t *testing.T) {
	p, ns := exportPlan(t, exportApps[0])
	files, err := Export(context.Background(), p, ns, ExportOptions{Format: ExportKustomize, Authz: meshes.AuthzEnforce})
	if err != nil {
		t.Fatal(err)
	}
	var tb bytes.Buffer
	if err := WriteArchive(&tb, "tar", "tiers", files); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&tb)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h.Name, "tiers/") {
			t.Errorf("tar entry %s", h.Name)
		}
		n++
	}
	var zb bytes.Buffer
	if err := WriteArchive(&zb, "zip", "tiers", files); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zb.Bytes()), int64(zb.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) || len(zr.File) != len(files) {
		t.Errorf("tar %d, zip %d entries for %d files", n, len(zr.File), len(files))
	}
	if err := WriteArchive(io.Discard, "rar", "x", files); err == nil {
		t.Error("rar accepted")
	}
	for _, o := range []ExportOptions{{Format: "yaml"}, {Format: ExportHelm, Mesh: "cilium"}, {Format: ExportHelm, Mesh: meshes.Consul, Authz: meshes.AuthzAudit}} {
		if _, err := Export(context.Background(), p, ns, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func writeCompose(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Services named like the namespace-wide rules or the namespace's own
// ServiceAccount take none of their names: every render has one object
// per kind and name, and the rules still stand for the whole namespace.
func TestRenderReservedNames(t *testing.T) {
	dir := writeCompose(t, `services:
  default-deny: {image: busybox, depends_on: [allow-nothing]}
  allow-nothing: {image: busybox, expose: ["80"]}
  default: {image: busybox, depends_on: [allow-dns]}
  allow-dns: {image: busybox, expose: ["53"]}
`)
	p, ns := exportPlan(t, dir)
	for _, m := range meshes.Names() {
		p.Options.Mesh, p.Options.Authz = m, meshes.AuthzEnforce
		r, err := Render(p, ns)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		for _, o := range r.Objects {
			if o.GetKind() == "ServiceAccount" && o.GetName() == "default" {
				t.Errorf("%s: the namespace's default ServiceAccount is the app's", m)
			}
			if o.GetKind() == "NetworkPolicy" && o.GetName() == "meshdock.default-deny" {
				if sel := o.Object["spec"].(map[string]any)["podSelector"].(map[string]any); len(sel) != 0 {
					t.Errorf("%s: the default deny selects %v", m, sel)
				}
			}
		}
	}
	files, err := Export(context.Background(), p, ns, ExportOptions{Format: ExportHelm})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f.Path] {
			t.Errorf("two files %s", f.Path)
		}
		seen[f.Path] = true
	}
}

// Text that names thousands of ports of one service is data: the paths
// stay bounded, and so does the export.
func TestPathsBounded(t *testing.T) {
	var conf strings.Builder
	for i := 1; i <= 4000; i++ {
		fmt.Fprintf(&conf, "db:%d\n", i)
	}
	text := "services:\n  db: {image: postgres}\n"
	for i := 0; i < 20; i++ {
		text += fmt.Sprintf("  s%d: {image: busybox, depends_on: [db], environment: {PEERS: %q}}\n", i, strings.ReplaceAll(conf.String(), "\n", ","))
	}
	p, ns := exportPlan(t, writeCompose(t, text))
	if n := len(p.Graph.Paths); n > 20*50 {
		t.Errorf("%d paths", n)
	}
	p.Options.Mesh, p.Options.Authz = meshes.Linkerd, meshes.AuthzEnforce
	if _, err := Render(p, ns); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Export(ctx, p, ns, ExportOptions{Format: ExportHelm}); err == nil {
		t.Error("a canceled export went on")
	}
}
