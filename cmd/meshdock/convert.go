package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
	"github.com/meshdock/meshdock/meshes"
)

func init() {
	commands["convert"] = command{summary: "Convert a compose app to Kubernetes manifests", run: runConvert}
}

// stdin is where `-f -` reads from; tests replace it.
var stdin io.Reader = os.Stdin

// stringList is a repeatable string flag (-f a -f b).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runConvert(args []string, stdout, stderr io.Writer) int {
	// A conversion is short-lived and bounded (the converter caps what one
	// project may hold): collecting garbage less often saves more time than
	// the memory it costs.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf composeFlags
	cf.register(fs)
	output := fs.String("o", "yaml", "output format: yaml, json, paths (the app's connections and why), kustomize or helm (with --out)")
	fs.StringVar(output, "output", "yaml", "same as -o")
	outDir := fs.String("out", "", "write the manifests into this directory (one file per object, or the Kustomize base and overlays, or the Helm chart) instead of stdout")
	mesh := fs.String("mesh", "", "render for this mesh, as deploy applies it: "+strings.Join(meshes.Names(), ", ")+" (helm: the values' default)")
	authz := fs.String("authz", "", "authorization of the app's paths: off, audit or enforce")
	quiet := fs.Bool("q", false, "do not print warnings")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meshdock convert [-f compose.yaml]... [--env-file F] [--profile P] [-p NAME] [-n NAMESPACE] [-o yaml|json|paths|kustomize|helm] [--mesh M] [--authz off|audit|enforce] [--out DIR]")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	switch *output {
	case "yaml", "json", "paths":
	case app.ExportKustomize, app.ExportHelm:
		if *outDir == "" {
			fmt.Fprintf(stderr, "meshdock convert: -o %s writes a folder: name it with --out\n", *output)
			return exitUsage
		}
	default:
		fmt.Fprintf(stderr, "meshdock convert: -o must be yaml, json, paths, kustomize or helm, not %q\n", *output)
		return exitUsage
	}
	if _, err := meshes.Get(*mesh); err != nil {
		fmt.Fprintf(stderr, "meshdock convert: --%s\n", meshdock.ErrorMessage(err))
		return exitUsage
	}
	if err := meshes.CheckAuthz(*mesh, *authz); err != nil {
		fmt.Fprintf(stderr, "meshdock convert: --%s\n", meshdock.ErrorMessage(err))
		return exitUsage
	}
	src, opt, err := cf.source()
	if err != nil {
		fmt.Fprintf(stderr, "meshdock convert: %v\n", err)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := app.Convert(ctx, src, opt)
	if err != nil {
		fmt.Fprintf(stderr, "meshdock convert: %s\n", meshdock.ErrorMessage(err))
		if meshdock.ErrorCode(err) == meshdock.EINTERNAL {
			fmt.Fprintf(stderr, "  cause: %v\n", err)
		}
		return exitCode(err)
	}
	if !*quiet {
		for _, w := range res.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", formatWarning(w))
		}
	}
	ns := cf.namespace
	if ns == "" {
		ns = app.NamespaceFor(res.Project)
	}
	plan := app.Plan{Project: res.Project, Objects: res.Objects, Graph: res.Graph, Builds: res.Builds,
		Options: meshdock.DeployOptions{Mesh: *mesh, Authz: *authz}, Expose: app.ExposePortForward}
	switch {
	case *output == "paths":
		writePaths(stdout, res.Graph.Paths)
		return exitOK
	case *output == app.ExportKustomize || *output == app.ExportHelm:
		files, err := app.Export(ctx, plan, ns, app.ExportOptions{Format: *output, Mesh: *mesh, Authz: *authz})
		if err == nil {
			err = writeFiles(*outDir, files)
		}
		if err != nil {
			fmt.Fprintf(stderr, "meshdock convert: %s\n", meshdock.ErrorMessage(err))
			return exitCode(err)
		}
		return exitOK
	case *mesh != "" || *authz != "":
		m, err := app.Render(plan, ns)
		if err != nil {
			fmt.Fprintf(stderr, "meshdock convert: %s\n", meshdock.ErrorMessage(err))
			return exitCode(err)
		}
		if !*quiet {
			for _, w := range m.Warnings {
				fmt.Fprintf(stderr, "warning: %s\n", w)
			}
			for _, r := range m.Rules {
				fmt.Fprintf(stderr, "rule: %s\n", r)
			}
		}
		res.Objects = append([]*unstructured.Unstructured{m.Namespace(ns)}, m.Objects...)
	}
	if *outDir != "" {
		if err := writeDir(*outDir, *output, res); err != nil {
			fmt.Fprintf(stderr, "meshdock convert: %v\n", err)
			return exitError
		}
		return exitOK
	}
	write := convert.WriteYAML
	if *output == "json" {
		write = convert.WriteJSON
	}
	if err := write(stdout, res.Objects); err != nil {
		fmt.Fprintf(stderr, "meshdock convert: %v\n", err)
		return exitError
	}
	return exitOK
}

// composeFlags are the flags that name a compose project and how to
// convert it, shared by convert and deploy.
type composeFlags struct {
	files, envFiles, profiles, envs      stringList
	project, dir, namespace, bind, image string
}

func (cf *composeFlags) register(fs *flag.FlagSet) {
	fs.Var(&cf.files, "f", "compose file (repeatable; - reads standard input; default: compose.yaml or docker-compose.yml and its override)")
	fs.Var(&cf.files, "file", "same as -f")
	fs.Var(&cf.envFiles, "env-file", "file of variables for interpolation (repeatable; default: .env)")
	fs.Var(&cf.envs, "e", "variable for interpolation, KEY=VALUE (repeatable; wins over env files)")
	fs.Var(&cf.profiles, "profile", "profile to enable (repeatable)")
	fs.StringVar(&cf.project, "p", "", "project name")
	fs.StringVar(&cf.project, "project-name", "", "same as -p")
	fs.StringVar(&cf.dir, "project-directory", "", "project directory (default: the first compose file's directory)")
	fs.StringVar(&cf.namespace, "n", "", "namespace of the objects")
	fs.StringVar(&cf.namespace, "namespace", "", "same as -n")
	fs.StringVar(&cf.bind, "bind-mounts", "skip", "what to do with bind mounts: skip, hostpath or configmap")
	fs.StringVar(&cf.image, "wait-image", convert.DefaultWaitImage, "image of the init containers that wait for depends_on (needs sh, nslookup and nc)")
}

// source is the project the flags name, and the conversion's options.
func (cf *composeFlags) source() (compose.Source, convert.Options, error) {
	mode := convert.BindMounts(cf.bind)
	if mode != convert.BindMountsSkip && mode != convert.BindMountsHostPath && mode != convert.BindMountsConfigMap {
		return compose.Source{}, convert.Options{}, fmt.Errorf("--bind-mounts must be skip, hostpath or configmap, not %q", cf.bind)
	}
	src, err := cliSource(cf.files, cf.envFiles, cf.envs, cf.profiles, cf.project, cf.dir)
	if err == nil && len(cf.files) == 1 && cf.files[0] == "-" {
		src, err = stdinSource(stdin, src)
	}
	return src, convert.Options{Namespace: cf.namespace, BindMounts: mode, WaitImage: cf.image}, err
}

// cliSource builds the Source for files on disk: the project directory is
// the first compose file's directory, as for docker compose.
func cliSource(files, envFiles, envs, profiles []string, name, dir string) (compose.Source, error) {
	src := compose.Source{Name: name, Profiles: profiles, Env: map[string]string{}}
	for _, kv := range envs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return src, fmt.Errorf("-e %q: want KEY=VALUE", kv)
		}
		src.Env[k] = v
	}
	if dir == "" {
		dir = "."
		if len(files) > 0 {
			dir = filepath.Dir(files[0])
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return src, err
	}
	src.Dir = abs
	for _, f := range files {
		src.ComposeFiles = append(src.ComposeFiles, relativeTo(abs, f))
	}
	for _, f := range envFiles {
		src.EnvFiles = append(src.EnvFiles, relativeTo(abs, f))
	}
	return src, nil
}

// stdinSource reads the compose file from standard input (-f -), as
// docker compose does; it can refer to no other file.
func stdinSource(r io.Reader, src compose.Source) (compose.Source, error) {
	b, err := io.ReadAll(io.LimitReader(r, compose.MaxComposeFileSize+1))
	if err != nil {
		return src, err
	}
	src.Files = []compose.File{{Name: "compose.yaml", Content: b}}
	src.DirName = filepath.Base(src.Dir) // docker compose names it after the current directory
	src.ComposeFiles, src.EnvFiles, src.Dir = nil, nil, ""
	return src, nil
}

// relativeTo names a file given on the command line relative to the
// project directory when it is inside it, and absolutely otherwise.
func relativeTo(dir, f string) string {
	abs, err := filepath.Abs(f)
	if err != nil {
		return f
	}
	if rel, err := filepath.Rel(dir, abs); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return abs
}

func formatWarning(w meshdock.Warning) string {
	var b strings.Builder
	if w.File != "" {
		b.WriteString(w.File)
		if w.Line > 0 {
			fmt.Fprintf(&b, ":%d", w.Line)
		}
		b.WriteString(": ")
	}
	if w.Service != "" {
		fmt.Fprintf(&b, "service %s: ", w.Service)
	}
	if w.Key != "" {
		fmt.Fprintf(&b, "%s: ", w.Key)
	}
	b.WriteString(w.Message)
	return b.String()
}

// writeDir writes one file per object, named name-kind, as kompose does
// for an output directory.
// writePaths prints the app's connections, one per line.
func writePaths(w io.Writer, paths []meshdock.Path) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FROM\tTO\tPORT\tWHY")
	for _, p := range paths {
		from, port := p.From, fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if from == "" {
			from = "(outside)"
		}
		if p.Port == 0 {
			port = "every port"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", from, p.To, port, strings.Join(p.Reasons, "; "))
	}
	_ = tw.Flush()
}

// writeFiles writes an export's files under dir.
func writeFiles(dir string, files []app.File) error {
	for _, f := range files {
		name := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(name, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func writeDir(dir, format string, res *convert.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, o := range res.Objects {
		var buf bytes.Buffer
		var err error
		if format == "json" {
			var b []byte
			b, err = json.MarshalIndent(o.Object, "", "  ")
			buf.Write(append(b, '\n'))
		} else {
			err = convert.WriteYAML(&buf, []*unstructured.Unstructured{o})
		}
		if err != nil {
			return err
		}
		name := strings.ToLower(o.GetName()+"-"+o.GetKind()) + "." + format
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
