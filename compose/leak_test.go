package compose_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
)

// convertString converts an uploaded project and returns the output and
// warnings as text.
func convertString(t *testing.T, files map[string]string, opt convert.Options) (string, string, error) {
	t.Helper()
	src := compose.Source{Name: "leak"}
	for n, c := range files {
		src.Files = append(src.Files, compose.File{Name: n, Content: []byte(c)})
	}
	res, err := convertSource(context.Background(), src, opt)
	if err != nil {
		return "", "", err
	}
	var out bytes.Buffer
	if err := convert.WriteYAML(&out, res.Objects); err != nil {
		t.Fatal(err)
	}
	if err := convert.WriteJSON(&out, res.Objects); err != nil {
		t.Fatal(err)
	}
	return out.String(), formatWarnings(res.Warnings), nil
}

// The process environment must never fill in a user's variables: neither
// ${VAR} interpolation, nor a bare KEY in environment, nor the runtime
// $${VAR} kept for the container's shell.
func TestProcessEnvironmentDoesNotLeak(t *testing.T) {
	const secret = "s3cr3t-from-the-server"
	t.Setenv("MESHDOCK_TEST_SECRET", secret)
	t.Setenv("COMPOSE_PROJECT_NAME", "server-side-name")
	t.Setenv("COMPOSE_PROFILES", "server-profile")
	home, _ := os.UserHomeDir()
	if home == "" || home == "/" {
		home = "/home/meshdock-test-home"
		t.Setenv("HOME", home)
	}
	text := `
services:
  app:
    image: example/app:${MESHDOCK_TEST_SECRET:-1.0}
    command: ["echo", "${MESHDOCK_TEST_SECRET}"]
    environment:
      FROM_INTERPOLATION: ${MESHDOCK_TEST_SECRET}
      WITH_DEFAULT: ${MESHDOCK_TEST_SECRET:-fallback}
      HOME:
      MESHDOCK_TEST_SECRET:
      RUNTIME: $${MESHDOCK_TEST_SECRET}
    labels:
      secret: ${MESHDOCK_TEST_SECRET}
    healthcheck:
      test: ["CMD-SHELL", "test -n \"$${MESHDOCK_TEST_SECRET}\" && echo $$HOME"]
  hidden:
    image: example/hidden:1.0
    profiles: [server-profile]
`
	out, warnings, err := convertString(t, map[string]string{"compose.yaml": text}, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, leaked := range []string{secret, home, "server-side-name", "example/hidden"} {
		if strings.Contains(out, leaked) {
			t.Errorf("output contains %q from the process environment", leaked)
		}
	}
	for _, want := range []string{"RUNTIME", "${MESHDOCK_TEST_SECRET}", "$HOME", "fallback"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, want := range []string{"variable MESHDOCK_TEST_SECRET is not set", "HOME has no value"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
}

// Files of the converting machine never reach the output: references to
// them are refused, and bind mounts of them are left out in every mode.
func TestHostFilesDoNotLeak(t *testing.T) {
	outsideDir := t.TempDir()
	const marker = "contents-of-a-file-outside-the-project"
	outsideFile := filepath.Join(outsideDir, "secret.txt")
	if err := os.WriteFile(outsideFile, []byte(marker), 0o600); err != nil {
		t.Fatal(err)
	}
	refused := map[string]string{
		"secret file":          "services: {app: {image: a, secrets: [s]}}\nsecrets: {s: {file: " + outsideFile + "}}\n",
		"config climbs":        "services: {app: {image: a, configs: [c]}}\nconfigs: {c: {file: ../../../../../../../../" + strings.TrimPrefix(outsideFile, "/") + "}}\n",
		"env_file":             "services: {app: {image: a, env_file: " + outsideFile + "}}\n",
		"label_file":           "services: {app: {image: a, label_file: " + outsideFile + "}}\n",
		"extends":              "services: {app: {extends: {file: " + outsideFile + ", service: x}}}\n",
		"include":              "include: [" + outsideFile + "]\nservices: {app: {image: a}}\n",
		"include env":          "include: [{path: other.yaml, env_file: " + outsideFile + "}]\nservices: {app: {image: a}}\n",
		"pre_start env_file":   "services: {app: {image: a, pre_start: [{command: ['true'], env_file: [{path: " + outsideFile + ", required: true}]}]}}\n",
		"pre_start label_file": "services: {app: {image: a, pre_start: [{command: ['true'], label_file: " + outsideFile + "}]}}\n",
		"env_file device":      "services: {app: {image: a, env_file: /dev/zero}}\n",
	}
	for name, text := range refused {
		t.Run(name, func(t *testing.T) {
			_, _, err := convertString(t, map[string]string{"compose.yaml": text, "other.yaml": "services: {other: {image: b}}\n"}, convert.Options{})
			if err == nil {
				t.Fatal("converted a project that names a file outside it")
			}
			if strings.Contains(err.Error(), marker) {
				t.Fatalf("error shows the file's contents: %v", err)
			}
			if !strings.Contains(err.Error(), "outside") {
				t.Errorf("error does not say the file is outside the project: %v", err)
			}
		})
	}
	binds := "services:\n  app:\n    image: a\n    volumes:\n      - " + outsideDir + ":/cfg\n      - " + outsideFile + ":/secret.txt\n      - ../../../../../../../..:/root-of-host\n      - /etc/hostname:/etc/hostname:ro\n      - ~/minecraft_data:/data\n      - ../private:/private\n"
	hostname, _ := os.ReadFile("/etc/hostname")
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, mode := range []convert.BindMounts{convert.BindMountsSkip, convert.BindMountsConfigMap, convert.BindMountsHostPath} {
		t.Run("bind mounts "+string(mode), func(t *testing.T) {
			out, warnings, err := convertString(t, map[string]string{"compose.yaml": binds}, convert.Options{BindMounts: mode})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, marker) || (len(bytes.TrimSpace(hostname)) > 3 && strings.Contains(out, string(bytes.TrimSpace(hostname))) && mode != convert.BindMountsHostPath) {
				t.Fatalf("output holds the contents of a host file")
			}
			if strings.Contains(out, "meshdock-src-") || strings.Contains(warnings, "meshdock-src-") {
				t.Errorf("the server's private copy of the upload is named in the output")
			}
			if strings.Contains(out, home) || strings.Contains(warnings, home) {
				t.Errorf("~ was expanded with the converting machine's home directory")
			}
			if !strings.Contains(warnings, "~/minecraft_data") {
				t.Errorf("no warning names ~/minecraft_data:\n%s", warnings)
			}
			if strings.Contains(out, "kind: ConfigMap") {
				t.Errorf("a ConfigMap was made from a host file:\n%s", out)
			}
			if !strings.Contains(warnings, "bind mount") {
				t.Errorf("no warning about bind mounts:\n%s", warnings)
			}
		})
	}
}

// Bind mounts of files that are part of an upload may become ConfigMaps,
// and only those.
func TestBindMountConfigMapFromProjectFile(t *testing.T) {
	text := "services:\n  web:\n    image: nginx\n    volumes:\n      - ./nginx.conf:/etc/nginx/nginx.conf:ro\n      - ./site:/usr/share/nginx/html\n"
	out, warnings, err := convertString(t, map[string]string{"compose.yaml": text, "nginx.conf": "worker_processes 1;\n", "site/index.html": "<h1>hi</h1>"}, convert.Options{BindMounts: convert.BindMountsConfigMap})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "worker_processes 1;") || !strings.Contains(out, "subPath: nginx.conf") {
		t.Errorf("nginx.conf did not become a mounted ConfigMap:\n%s", out)
	}
	if strings.Contains(out, "<h1>hi</h1>") || !strings.Contains(warnings, "./site") {
		t.Errorf("a folder was read into a ConfigMap, or not reported:\n%s", warnings)
	}
}

// An included file's .env is read by compose-go itself: a link out of the
// project there is refused.
func TestIncludeDotEnvLinkRefused(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "token")
	os.WriteFile(outside, []byte("TOKEN=contents-outside\n"), 0o600)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("include: [sub/inc.yaml]\nservices: {app: {image: a}}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "inc.yaml"), []byte("services: {inc: {image: b, environment: [T=${TOKEN}]}}\n"), 0o644)
	if err := os.Symlink(outside, filepath.Join(dir, "sub", ".env")); err != nil {
		t.Skip(err)
	}
	_, err := convertSource(context.Background(), compose.Source{Dir: dir}, convert.Options{})
	if err == nil || strings.Contains(err.Error(), "contents-outside") || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("got %v, want a refusal that shows nothing of the file", err)
	}
}

// Work a single upload can cause is bounded: repeated file names and
// thousands of services are refused before they cost anything.
func TestUploadWorkIsBounded(t *testing.T) {
	text := []byte("services: {a: {image: x}}\n")
	_, err := convertSource(context.Background(), compose.Source{Files: []compose.File{{Name: "c.yaml", Content: text}}, ComposeFiles: []string{"c.yaml", "c.yaml"}}, convert.Options{})
	if err == nil || !strings.Contains(err.Error(), "named twice") {
		t.Errorf("repeated compose file: %v", err)
	}
	_, err = convertSource(context.Background(), compose.Source{Files: []compose.File{{Name: "c.yaml", Content: text}}, ComposeFiles: []string{"c.yaml", "./c.yaml"}}, convert.Options{})
	if err == nil || !strings.Contains(err.Error(), "named twice") {
		t.Errorf("compose file repeated as ./: %v", err)
	}
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 0; i <= compose.MaxServices; i++ {
		fmt.Fprintf(&b, "  s%d: {image: x}\n", i)
	}
	_, err = convertSource(context.Background(), compose.Source{Files: []compose.File{{Name: "compose.yaml", Content: []byte(b.String())}}}, convert.Options{})
	if meshdock.ErrorCode(err) != meshdock.ETOOLARGE {
		t.Errorf("%d services: %v, want too_large", compose.MaxServices+1, err)
	}
}

// No path of the converting machine reaches what the user of an upload
// sees, whatever the input: not its home (which compose-go uses for `~`,
// written or produced by a variable), not the private copy. Checked in
// errors, warnings, objects and the graph, in every bind-mount mode.
func TestServerPathsDoNotLeak(t *testing.T) {
	home := filepath.Join(t.TempDir(), "server-home-marker")
	if err := os.MkdirAll(filepath.Join(home, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{".bashrc", ".env", "base.yaml", "inc.yaml", "sub/x"} {
		os.WriteFile(filepath.Join(home, n), []byte("services: {x: {image: x}}\n"), 0o600)
	}
	t.Setenv("HOME", home)
	cases := map[string]string{
		"default tilde":        "services: {a: {image: x, volumes: [\"${UNSET:-~}/.bashrc:/data\"]}}\n",
		"tilde":                "services: {a: {image: x, volumes: [\"~/.bashrc:/data/\"]}}\n",
		"tilde long syntax":    "services: {a: {image: x, volumes: [{type: bind, source: ~/sub, target: /s}]}}\n",
		"tilde from variable":  "services: {a: {image: x, volumes: [\"${DIR}/.bashrc:/data\"]}}\n",
		"tilde in include":     "include: [inc.yaml]\nservices: {a: {image: x}}\n",
		"tilde in extends":     "services: {a: {extends: {file: ext.yaml, service: b}}}\n",
		"env_file":             "services: {a: {image: x, env_file: ~/.env}}\n",
		"env_file var":         "services: {a: {image: x, env_file: \"${UNSET:-~}/.env\"}}\n",
		"label_file":           "services: {a: {image: x, label_file: ~/.env}}\n",
		"secret":               "services: {a: {image: x, secrets: [s]}}\nsecrets: {s: {file: ~/.bashrc}}\n",
		"config":               "services: {a: {image: x, configs: [c]}}\nconfigs: {c: {file: \"${UNSET:-~}/.bashrc\"}}\n",
		"extends file":         "services: {a: {extends: {file: ~/base.yaml, service: x}}}\n",
		"include file":         "include: [~/inc.yaml]\nservices: {a: {image: x}}\n",
		"build context":        "services: {a: {build: ~/sub}}\n",
		"build dockerfile":     "services: {a: {build: {context: ., dockerfile: ~/sub/x}}}\n",
		"climb":                "services: {a: {image: x, volumes: [\"../../../../../../../../etc/passwd:/data\"]}}\n",
		"working_dir":          "services: {a: {image: x, working_dir: ~/sub}}\n",
		"pre_start env_file":   "services: {a: {image: x, pre_start: [{command: ['true'], env_file: ~/.env}]}}\n",
		"develop watch":        "services: {a: {image: x, develop: {watch: [{path: ~/sub, action: sync, target: /app}]}}}\n",
		"tmpfs and volume src": "services: {a: {image: x, volumes: [\"~:/h\", \"~/sub:/s:ro\"]}}\n",
	}
	extra := map[string]string{
		"inc.yaml": "services: {inc: {image: y, volumes: [\"~/.bashrc:/data\"]}}\n",
		"ext.yaml": "services: {b: {image: y, volumes: [\"~/sub:/s\"]}}\n",
	}
	for name, text := range cases {
		for _, mode := range []convert.BindMounts{convert.BindMountsSkip, convert.BindMountsHostPath, convert.BindMountsConfigMap} {
			t.Run(name+"/"+string(mode), func(t *testing.T) {
				src := compose.Source{Name: "leak", Env: map[string]string{"DIR": "~"}, Files: []compose.File{{Name: "compose.yaml", Content: []byte(text)}}}
				for n, c := range extra {
					src.Files = append(src.Files, compose.File{Name: n, Content: []byte(c)})
				}
				res, err := convertSource(context.Background(), src, convert.Options{BindMounts: mode})
				if err != nil {
					if code := meshdock.ErrorCode(err); code == meshdock.EINTERNAL {
						t.Fatalf("internal error: %v", err)
					}
					if msg := meshdock.ErrorMessage(err); strings.Contains(msg, home) || strings.Contains(msg, "server-home-marker") || strings.Contains(msg, "meshdock-src-") {
						t.Fatalf("the error names a server path: %s", msg)
					}
					return
				}
				var out bytes.Buffer
				convert.WriteYAML(&out, res.Objects)
				graph, _ := json.Marshal(res.Graph)
				ws, _ := json.Marshal(res.Warnings)
				for what, text := range map[string]string{"objects": out.String(), "graph": string(graph), "warnings": string(ws)} {
					if strings.Contains(text, "server-home-marker") || strings.Contains(text, "meshdock-src-") {
						t.Errorf("the %s name a server path:\n%s", what, text)
					}
				}
			})
		}
	}
}

// A warning about a key of an included file names that file and line.
func TestIncludedWarningsNameTheirFile(t *testing.T) {
	_, warnings, err := convertString(t, map[string]string{
		"compose.yaml": "include: [inc.yaml]\nservices: {a: {image: x}}\n",
		"inc.yaml":     "services:\n  inc:\n    image: y\n    volumes:\n      - ~/.bashrc:/data\n",
	}, convert.Options{BindMounts: convert.BindMountsHostPath})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warnings, "inc.yaml:5") || !strings.Contains(warnings, "~/.bashrc") {
		t.Errorf("the warning does not name inc.yaml:5 and ~/.bashrc:\n%s", warnings)
	}
}

// Checks of what an include makes compose-go read see the file as
// compose-go does: an env file or project directory written through an
// alias, a merge key or an aliased list is refused like one written out.
func TestAliasedIncludesContained(t *testing.T) {
	outside := t.TempDir()
	secretEnv := filepath.Join(outside, "secret.env")
	os.WriteFile(secretEnv, []byte("SECRETVAL=contents-of-a-server-file\n"), 0o600)
	os.WriteFile(filepath.Join(outside, ".env"), []byte("SECRETVAL=contents-of-a-server-file\n"), 0o600)
	sub := "services: {b: {image: nginx, environment: {S: \"${SECRETVAL}\"}}}\n"
	for name, text := range map[string]string{
		"env_file alias":          "x-f: &f " + secretEnv + "\ninclude:\n  - path: sub/compose.yaml\n    env_file: *f\n",
		"include list alias":      "x-i: &i [{path: sub/compose.yaml, env_file: " + secretEnv + "}]\ninclude: *i\n",
		"include item alias":      "x-i: &i {path: sub/compose.yaml, env_file: " + secretEnv + "}\ninclude: [*i]\n",
		"include item merge":      "x-i: &i {env_file: " + secretEnv + "}\ninclude: [{<<: *i, path: sub/compose.yaml}]\n",
		"project_directory alias": "x-d: &d " + outside + "\ninclude: [{path: sub/compose.yaml, project_directory: *d}]\n",
		"env_file list alias":     "x-f: &f [" + secretEnv + "]\ninclude: [{path: sub/compose.yaml, env_file: *f}]\n",
		// An anchor name compose-go's parser takes and the checks' does not.
		"anchor only compose-go parses": "x-a: &a.b foo\ninclude:\n  - path: sub/compose.yaml\n    env_file: " + secretEnv + "\n",
		"anchor with a slash":           "x-a: &a/b foo\ninclude:\n  - path: sub/compose.yaml\n    env_file: " + secretEnv + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			out, warnings, err := convertString(t, map[string]string{"compose.yaml": text, "sub/compose.yaml": sub, "sub/uses.yaml": "services: {c: {image: x, depends_on: [\"${SECRETVAL}\"]}}\n"}, convert.Options{})
			if strings.Contains(out+warnings+meshdock.ErrorMessage(err), "contents-of-a-server-file") {
				t.Fatalf("a file of the server reached the manifests")
			}
			if msg := meshdock.ErrorMessage(err); err == nil || !strings.Contains(msg, "outside") && !strings.Contains(msg, "not supported") && !strings.Contains(msg, "cannot check") {
				t.Fatalf("got %v, want a refusal", err)
			}
		})
	}
}
