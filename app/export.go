package app

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/meshes"
)

// Export formats.
const (
	ExportKustomize = "kustomize"
	ExportHelm      = "helm"
)

// DockerDesktop names the Kustomize overlay and the Helm value for Docker
// Desktop, where published ports are LoadBalancer Services.
const DockerDesktop = "docker-desktop"

// ExportOptions say what an export holds: the format, the mesh the Helm
// chart's values pick by default, and the authorization mode.
type ExportOptions struct {
	Format string
	Mesh   string
	Authz  string
}

// Check refuses options that cannot be exported.
func (o ExportOptions) Check() error {
	if o.Format != ExportKustomize && o.Format != ExportHelm {
		return meshdock.Errorf(meshdock.EINVALID, "format must be kustomize or helm, not %s", meshdock.QuoteName(o.Format))
	}
	if _, err := meshes.Get(o.Mesh); err != nil {
		return err
	}
	return meshes.CheckAuthz(o.Mesh, o.Authz)
}

// File is one file of an export.
type File struct {
	Path string
	Data []byte
}

// variant is one choice an export covers: a mesh, an authorization mode,
// and whether published ports are LoadBalancers (Docker Desktop).
type variant struct {
	mesh, authz   string
	dockerDesktop bool
}

func (v variant) plan(p Plan) Plan {
	p.Options.Mesh, p.Options.Authz = v.mesh, v.authz
	p.Expose = ExposePortForward
	if v.dockerDesktop {
		p.Expose = ExposeLoadBalancer
	}
	return p
}

// Objects renders what a deploy of the variant applies into ns, the
// namespace first.
func renderVariant(p Plan, ns string, v variant) ([]*unstructured.Unstructured, error) {
	m, err := Render(v.plan(p), ns)
	if err != nil {
		return nil, err
	}
	return append([]*unstructured.Unstructured{m.Namespace(ns)}, m.Objects...), nil
}

// Export writes the app as a Kustomize base with an overlay per mesh (and
// one for Docker Desktop), or as a Helm chart whose values pick the mesh,
// the authorization mode and Docker Desktop. What an overlay renders, or
// the chart for a choice of values, is exactly what the deploy of that
// choice applies (the inventory aside, which is meshdock's own).
func Export(ctx context.Context, p Plan, ns string, opt ExportOptions) (files []File, err error) {
	if err := opt.Check(); err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			err = checkExportSize(files)
		}
		if err != nil {
			files = nil
		}
	}()
	if opt.Authz == "" {
		opt.Authz = meshes.AuthzOff
	}
	if opt.Mesh == "" {
		opt.Mesh = meshes.None
	}
	if opt.Format == ExportKustomize {
		return exportKustomize(ctx, p, ns, opt)
	}
	return exportHelm(ctx, p, ns, opt)
}

// MaxExportSize bounds what one export writes.
const MaxExportSize = 32 << 20

func checkExportSize(files []File) error {
	n := 0
	for _, f := range files {
		n += len(f.Data)
	}
	if n > MaxExportSize {
		return meshdock.Errorf(meshdock.ETOOLARGE, "the export would be %d MiB, more than %d MiB: export for one mesh (-o yaml --mesh M) instead", n>>20, MaxExportSize>>20)
	}
	return nil
}

func objectKey(o *unstructured.Unstructured) string {
	return o.GetAPIVersion() + " " + o.GetKind() + " " + o.GetNamespace() + " " + o.GetName()
}

func fileName(o *unstructured.Unstructured) string {
	return strings.ToLower(o.GetKind()) + "-" + o.GetName() + ".yaml"
}

func yamlOf(v any) ([]byte, error) { return yaml.Marshal(v) }

// exportKustomize writes base/ (no mesh) and overlays/<mesh>/ and
// overlays/docker-desktop/, each a kustomization over the base: objects
// the overlay adds as resources, changed ones as JSON patches, removed
// ones as delete patches. Under audit, meshes that cannot audit get no
// overlay and the base has no rules (NetworkPolicies cannot audit).
func exportKustomize(ctx context.Context, p Plan, ns string, opt ExportOptions) ([]File, error) {
	baseAuthz := opt.Authz
	if meshes.CheckAuthz(meshes.None, baseAuthz) != nil {
		baseAuthz = meshes.AuthzOff
	}
	base, err := renderVariant(p, ns, variant{meshes.None, baseAuthz, false})
	if err != nil {
		return nil, err
	}
	var files []File
	var resources []string
	for _, o := range base {
		name := fileName(o)
		data, err := yamlOf(o.Object)
		if err != nil {
			return nil, err
		}
		files = append(files, File{"base/" + name, data})
		resources = append(resources, name)
	}
	k, err := yamlOf(map[string]any{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources})
	if err != nil {
		return nil, err
	}
	files = append(files, File{"base/kustomization.yaml", k})
	overlays := []variant{}
	for _, m := range meshes.Names()[1:] {
		if meshes.CheckAuthz(m, opt.Authz) == nil {
			overlays = append(overlays, variant{m, opt.Authz, false})
		}
	}
	overlays = append(overlays, variant{meshes.None, baseAuthz, true})
	for _, v := range overlays {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		objs, err := renderVariant(p, ns, v)
		if err != nil {
			return nil, err
		}
		dir := "overlays/" + v.mesh
		if v.dockerDesktop {
			dir = "overlays/" + DockerDesktop
		}
		out, err := overlay(dir, base, objs)
		if err != nil {
			return nil, err
		}
		files = append(files, out...)
	}
	readme := fmt.Sprintf("# %s\n\nMade by meshdock from the compose app %s, authorization %s.\n\n"+
		"- `kubectl apply -k base` deploys it with no mesh;\n- `kubectl apply -k overlays/<mesh>` onto a mesh (install the mesh first: `meshdock mesh install <mesh>`);\n"+
		"- `kubectl apply -k overlays/%s` on Docker Desktop (published ports as LoadBalancer Services).\n", p.Project, p.Project, opt.Authz, DockerDesktop)
	files = append(files, File{"README.md", []byte(readme)})
	return files, nil
}

// overlay writes the kustomization that turns base into objs.
func overlay(dir string, base, objs []*unstructured.Unstructured) ([]File, error) {
	inBase := map[string]*unstructured.Unstructured{}
	for _, o := range base {
		inBase[objectKey(o)] = o
	}
	seen := map[string]bool{}
	var files []File
	resources := []any{"../../base"}
	var patches []any
	for _, o := range objs {
		key := objectKey(o)
		seen[key] = true
		b, ok := inBase[key]
		if !ok {
			data, err := yamlOf(o.Object)
			if err != nil {
				return nil, err
			}
			files = append(files, File{dir + "/" + fileName(o), data})
			resources = append(resources, fileName(o))
			continue
		}
		ops := jsonPatch(nil, b.Object, o.Object)
		if len(ops) == 0 {
			continue
		}
		data, err := yamlOf(ops)
		if err != nil {
			return nil, err
		}
		name := "patch-" + fileName(o)
		files = append(files, File{dir + "/" + name, data})
		patches = append(patches, map[string]any{"path": name, "target": target(o)})
	}
	for _, o := range base {
		if !seen[objectKey(o)] {
			del := map[string]any{"apiVersion": o.GetAPIVersion(), "kind": o.GetKind(), "metadata": map[string]any{"name": o.GetName()}, "$patch": "delete"}
			if o.GetNamespace() != "" {
				del["metadata"].(map[string]any)["namespace"] = o.GetNamespace()
			}
			data, err := yamlOf(del)
			if err != nil {
				return nil, err
			}
			name := "delete-" + fileName(o)
			files = append(files, File{dir + "/" + name, data})
			patches = append(patches, map[string]any{"path": name})
		}
	}
	k := map[string]any{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
	if patches != nil {
		k["patches"] = patches
	}
	data, err := yamlOf(k)
	if err != nil {
		return nil, err
	}
	return append(files, File{dir + "/kustomization.yaml", data}), nil
}

func target(o *unstructured.Unstructured) map[string]any {
	gvk := o.GroupVersionKind()
	t := map[string]any{"version": gvk.Version, "kind": gvk.Kind, "name": o.GetName()}
	if gvk.Group != "" {
		t["group"] = gvk.Group
	}
	if o.GetNamespace() != "" {
		t["namespace"] = o.GetNamespace()
	}
	return t
}

// jsonPatch returns the RFC 6902 operations that turn a into b: maps
// key by key, anything else (lists included) replaced whole.
func jsonPatch(at []string, a, b any) []any {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		if reflect.DeepEqual(a, b) {
			return nil
		}
		return []any{map[string]any{"op": "replace", "path": pointer(at), "value": b}}
	}
	var ops []any
	keys := make([]string, 0, len(am)+len(bm))
	for k := range am {
		keys = append(keys, k)
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		av, inA := am[k]
		bv, inB := bm[k]
		p := append(slices.Clone(at), k)
		switch {
		case !inB:
			ops = append(ops, map[string]any{"op": "remove", "path": pointer(p)})
		case !inA:
			ops = append(ops, map[string]any{"op": "add", "path": pointer(p), "value": bv})
		default:
			ops = append(ops, jsonPatch(p, av, bv)...)
		}
	}
	return ops
}

func pointer(at []string) string {
	var b strings.Builder
	for _, s := range at {
		b.WriteString("/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(s))
	}
	return b.String()
}

// exportHelm writes a chart whose templates hold every object of every
// choice of values, each guarded by the choices it belongs to.
func exportHelm(ctx context.Context, p Plan, ns string, opt ExportOptions) ([]File, error) {
	type entry struct {
		obj      *unstructured.Unstructured
		variants []variant
	}
	var all []variant
	for _, m := range meshes.Names() {
		for _, a := range meshes.AuthzModes() {
			if meshes.CheckAuthz(m, a) == nil {
				all = append(all, variant{m, a, false}, variant{m, a, true})
			}
		}
	}
	var entries []*entry
	byContent := map[string]*entry{}
	for _, v := range all {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		objs, err := renderVariant(p, ns, v)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			data, err := json.Marshal(o.Object)
			if err != nil {
				return nil, err
			}
			e := byContent[string(data)]
			if e == nil {
				e = &entry{obj: o}
				byContent[string(data)] = e
				entries = append(entries, e)
			}
			e.variants = append(e.variants, v)
		}
	}
	var files []File
	names := map[string]int{}
	for _, e := range entries {
		data, err := yamlOf(e.obj.Object)
		if err != nil {
			return nil, err
		}
		body := strings.ReplaceAll(string(data), "{{", `{{ "{{" }}`)
		cond := condition(e.variants, all)
		name := strings.TrimSuffix(fileName(e.obj), ".yaml")
		// Another variant of the same object: "_" is in no object's name.
		if names[name]++; names[name] > 1 {
			name = fmt.Sprintf("%s_%d", name, names[name])
		}
		text := body
		if cond != "" {
			text = "{{- if " + cond + " }}\n" + body + "{{- end }}\n"
		}
		files = append(files, File{"templates/" + name + ".yaml", []byte(text)})
	}
	chart, err := yamlOf(map[string]any{"apiVersion": "v2", "name": chartName(p.Project), "version": "0.1.0", "type": "application",
		"description": "The compose app " + p.Project + ", made by meshdock: values pick the mesh and the authorization mode."})
	if err != nil {
		return nil, err
	}
	values := fmt.Sprintf("# The service mesh the app is enrolled in: %s.\nmesh: %s\n# Authorization of the app's paths: off, audit (istio, linkerd, kuma) or enforce.\nauthz: %s\n"+
		"# Docker Desktop: published ports as LoadBalancer Services.\ndockerDesktop: false\n", strings.Join(meshes.Names(), ", "), fmt.Sprintf("%q", opt.Mesh), fmt.Sprintf("%q", opt.Authz))
	validate := `{{- define "validate" }}
{{- if not (has .Values.mesh (list ` + quoteList(meshes.Names()) + `)) }}{{ fail (printf "mesh must be one of ` + strings.Join(meshes.Names(), ", ") + `, not %q" .Values.mesh) }}{{- end }}
{{- if not (has .Values.authz (list ` + quoteList(meshes.AuthzModes()) + `)) }}{{ fail (printf "authz must be one of ` + strings.Join(meshes.AuthzModes(), ", ") + `, not %q" .Values.authz) }}{{- end }}
{{- if and (eq .Values.authz "audit") (has .Values.mesh (list "none" "istio-ambient" "consul")) }}{{ fail (printf "authz audit is not available with mesh %s" .Values.mesh) }}{{- end }}
{{- end }}
`
	files = append(files, File{"Chart.yaml", chart}, File{"values.yaml", []byte(values)}, File{"templates/_validate.tpl", []byte(validate)},
		File{"templates/validate.yaml", []byte("{{- include \"validate\" . }}\n")})
	return files, nil
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, " ")
}

func chartName(project string) string { return NamespaceFor(project) }

// condition is the template test for a set of variants out of all: by
// mesh where an object is in every variant of that mesh.
func condition(in, all []variant) string {
	if len(in) == len(all) {
		return ""
	}
	var parts []string
	for _, m := range meshes.Names() {
		var mine, every []variant
		for _, v := range all {
			if v.mesh == m {
				every = append(every, v)
			}
		}
		for _, v := range in {
			if v.mesh == m {
				mine = append(mine, v)
			}
		}
		switch {
		case len(mine) == 0:
		case len(mine) == len(every):
			parts = append(parts, fmt.Sprintf("(eq .Values.mesh %q)", m))
		default:
			for _, v := range mine {
				dd := "(not .Values.dockerDesktop)"
				if v.dockerDesktop {
					dd = ".Values.dockerDesktop"
				}
				parts = append(parts, fmt.Sprintf("(and (eq .Values.mesh %q) (eq .Values.authz %q) %s)", m, v.authz, dd))
			}
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "or " + strings.Join(parts, " ")
}

// WriteArchive writes files as a gzipped tar ("tar") or a zip ("zip"),
// under a top folder.
func WriteArchive(w io.Writer, kind, top string, files []File) error {
	now := time.Unix(0, 0)
	switch kind {
	case "tar", "":
		gz := gzip.NewWriter(w)
		tw := tar.NewWriter(gz)
		for _, f := range files {
			if err := tw.WriteHeader(&tar.Header{Name: path.Join(top, f.Path), Mode: 0o644, Size: int64(len(f.Data)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			if _, err := tw.Write(f.Data); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return gz.Close()
	case "zip":
		zw := zip.NewWriter(w)
		for _, f := range files {
			fw, err := zw.CreateHeader(&zip.FileHeader{Name: path.Join(top, f.Path), Method: zip.Deflate, Modified: now})
			if err != nil {
				return err
			}
			if _, err := fw.Write(f.Data); err != nil {
				return err
			}
		}
		return zw.Close()
	}
	return meshdock.Errorf(meshdock.EINVALID, "archive must be tar or zip, not %s", meshdock.QuoteName(kind))
}
