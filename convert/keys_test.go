package convert

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/schema"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
)

// serviceSamples gives each service key of the compose specification a
// value a real file could hold. A key of the schema with no sample fails
// the test: a new compose-go that brings a key must come with a decision
// about it.
var serviceSamples = map[string]string{
	"annotations":         "annotations: {com.example.team: shop}",
	"attach":              "attach: false",
	"blkio_config":        "blkio_config: {weight: 300}",
	"build":               "build: .",
	"cap_add":             "cap_add: [NET_ADMIN]",
	"cap_drop":            "cap_drop: [ALL]",
	"cgroup":              "cgroup: host",
	"cgroup_parent":       "cgroup_parent: m-executor",
	"command":             "command: [serve, --verbose]",
	"configs":             "configs: [cfg]",
	"container_name":      "container_name: web-1",
	"cpu_count":           "cpu_count: 2",
	"cpu_percent":         "cpu_percent: 50",
	"cpu_period":          "cpu_period: 100000",
	"cpu_quota":           "cpu_quota: 50000",
	"cpu_rt_period":       "cpu_rt_period: 1000000",
	"cpu_rt_runtime":      "cpu_rt_runtime: 950000",
	"cpu_shares":          "cpu_shares: 512",
	"cpus":                "cpus: 0.5",
	"cpuset":              "cpuset: 0-1",
	"credential_spec":     "credential_spec: {file: spec.json}",
	"depends_on":          "depends_on: [db]",
	"deploy":              "deploy: {replicas: 2}",
	"develop":             "develop: {watch: [{action: sync, path: ./src, target: /src}]}",
	"device_cgroup_rules": "device_cgroup_rules: ['c 1:3 mr']",
	"devices":             "devices: ['/dev/fuse:/dev/fuse']",
	"dns":                 "dns: [10.0.0.53]",
	"dns_opt":             "dns_opt: [use-vc, 'ndots:2']",
	"dns_search":          "dns_search: [example.internal]",
	"domainname":          "domainname: example.internal",
	"entrypoint":          "entrypoint: [/bin/app]",
	"env_file":            "env_file: [app.env]",
	"environment":         "environment: {MODE: production}",
	"expose":              "expose: ['9000']",
	"extends":             "extends: {service: db}",
	"external_links":      "external_links: ['redis_1:redis']",
	"extra_hosts":         "extra_hosts: ['somehost=10.1.2.3']",
	"gpus":                "gpus: all",
	"group_add":           "group_add: [mail, '1001']",
	"healthcheck":         "healthcheck: {test: [CMD, /bin/check], interval: 10s}",
	"hostname":            "hostname: web-host",
	"image":               "image: example/web:2.0",
	"init":                "init: true",
	"ipc":                 "ipc: host",
	"isolation":           "isolation: process",
	"label_file":          "label_file: [app.labels]",
	"labels":              "labels: {com.example.team: shop}",
	"links":               "links: [db]",
	"logging":             "logging: {driver: json-file}",
	"mac_address":         "mac_address: 02:42:ac:11:65:43",
	"mem_limit":           "mem_limit: 512m",
	"mem_reservation":     "mem_reservation: 256m",
	"mem_swappiness":      "mem_swappiness: 10",
	"memswap_limit":       "memswap_limit: 1g",
	"models":              "models: [llm]",
	"network_mode":        "network_mode: host",
	"networks":            "networks: [front]",
	"oom_kill_disable":    "oom_kill_disable: true",
	"oom_score_adj":       "oom_score_adj: 500",
	"pid":                 "pid: host",
	"pids_limit":          "pids_limit: 100",
	"platform":            "platform: linux/arm64",
	"ports":               "ports: ['8080:80']",
	"post_start":          "post_start: [{command: [/bin/warm]}]",
	"pre_start":           "pre_start: [{command: [/bin/migrate]}]",
	"pre_stop":            "pre_stop: [{command: [/bin/drain]}]",
	"privileged":          "privileged: true",
	"profiles":            "profiles: [debug]",
	"provider":            "provider: {type: model, options: {model: ai/smollm2}}",
	"pull_policy":         "pull_policy: always",
	"pull_refresh_after":  "pull_refresh_after: 24h",
	"read_only":           "read_only: true",
	"restart":             "restart: on-failure",
	"runtime":             "runtime: runsc",
	"scale":               "scale: 3",
	"secrets":             "secrets: [token]",
	"security_opt":        "security_opt: ['no-new-privileges:true']",
	"shm_size":            "shm_size: 256m",
	"stdin_open":          "stdin_open: true",
	"stop_grace_period":   "stop_grace_period: 45s",
	"stop_signal":         "stop_signal: SIGINT",
	"storage_opt":         "storage_opt: {size: 1G}",
	"sysctls":             "sysctls: {net.core.somaxconn: 1024}",
	"tmpfs":               "tmpfs: [/run]",
	"tty":                 "tty: true",
	"ulimits":             "ulimits: {nofile: 20000}",
	"umask":               "umask: '0022'",
	"use_api_socket":      "use_api_socket: true",
	"user":                "user: '1000'",
	"userns_mode":         "userns_mode: host",
	"uts":                 "uts: host",
	"volumes":             "volumes: ['data:/var/lib/data']",
	"volumes_from":        "volumes_from: [db]",
	"working_dir":         "working_dir: /srv",
}

// keyProject is a small app: web (under test) and db. The key under test
// is written as web's last key, so its line is known.
func keyProject(extra string) []compose.File {
	image := "image: example/web:1.0"
	if strings.HasPrefix(extra, "image:") {
		image, extra = extra, ""
	}
	text := `services:
  web:
    ` + image + `
    ` + extra + `
  db:
    image: example/db:1.0
    environment: {DB_MODE: primary}
networks:
  front: {}
volumes:
  data: {}
configs:
  cfg:
    file: ./cfg.txt
secrets:
  token:
    file: ./token.txt
models:
  llm:
    model: ai/smollm2
`
	if extra == "" {
		text = strings.Replace(text, "\n    \n", "\n", 1)
	}
	return []compose.File{
		{Name: "compose.yaml", Content: []byte(text)},
		{Name: "cfg.txt", Content: []byte("x=1\n")},
		{Name: "token.txt", Content: []byte("secret\n")},
		{Name: "app.env", Content: []byte("A=1\n")},
		{Name: "app.labels", Content: []byte("com.example.from-file=yes\n")},
		{Name: "spec.json", Content: []byte("{}\n")},
		{Name: "Dockerfile", Content: []byte("FROM scratch\n")},
	}
}

// schemaServiceKeys lists the service keys of the compose-spec schema that
// compose-go ships, read at test time.
func schemaServiceKeys(t *testing.T) ([]string, []string) {
	var s struct {
		Properties map[string]any `json:"properties"`
		Defs       map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal([]byte(schema.Schema), &s); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, def := range []string{"service", "container_spec", "workload_spec"} {
		for k := range s.Defs[def].Properties {
			keys[k] = true
		}
	}
	if len(keys) < 90 {
		t.Fatalf("only %d service keys found in the schema: its layout changed", len(keys))
	}
	return slices.Sorted(maps.Keys(keys)), slices.Sorted(maps.Keys(s.Properties))
}

// TestEveryServiceKeyIsHandled sets each service key of the schema on its
// own and requires that it is carried over (the manifests change) or that a
// warning names exactly that key, with the file and line, and that it is
// never an error.
func TestEveryServiceKeyIsHandled(t *testing.T) {
	keys, _ := schemaServiceKeys(t)
	base := convertFiles(t, keyProject(""))
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			sample, ok := serviceSamples[key]
			if !ok {
				t.Fatalf("service key %q of the compose schema has no sample here: decide how it is carried over or warned about", key)
			}
			res := convertFiles(t, keyProject(sample))
			if w, ok := warnedAbout(res.Warnings, "web", key); ok {
				if w.File != "compose.yaml" || w.Line != 4 {
					t.Errorf("warning about %s is placed at %s:%d, want compose.yaml:4", key, w.File, w.Line)
				}
				if strings.Contains(w.Message, "not carried over") && !strings.Contains(w.Message, ":") {
					t.Errorf("warning about %s does not say why: %q", key, w.Message)
				}
				return
			}
			for _, w := range res.Warnings {
				if w.Service == "web" && w.Key != "" && !strings.HasPrefix(w.Key, key) && !hasWarning(base.Warnings, w) {
					t.Errorf("setting %s warns under another key: %s: %s", key, w.Key, w.Message)
				}
			}
			if reflect.DeepEqual(objectsOf(res), objectsOf(base)) {
				t.Errorf("%s is silently dropped: the manifests do not change and no warning names it", key)
			}
		})
	}
}

// TestEveryTopLevelKeyIsHandled does the same for the top-level keys.
func TestEveryTopLevelKeyIsHandled(t *testing.T) {
	_, top := schemaServiceKeys(t)
	samples := map[string]string{
		"configs":  "configs: {extra: {content: hello}}",
		"include":  "include: [inc.yaml]",
		"jobs":     "jobs: {nightly: {image: example/job:1.0, triggers: {schedule: ['0 3 * * *']}}}",
		"models":   "models: {other: {model: ai/other}}",
		"name":     "name: shop",
		"networks": "networks: {back: {driver: overlay}}",
		"secrets":  "secrets: {extra: {environment: A}}",
		"version":  "version: '3.8'",
		"volumes":  "volumes: {extra: {driver: nfs}}",
	}
	for _, key := range append(top, "x-custom") {
		if key == "services" {
			continue // every case has services
		}
		t.Run(key, func(t *testing.T) {
			sample, ok := samples[key]
			if key == "x-custom" {
				sample, ok = "x-custom: {a: 1}", true
			}
			if !ok {
				t.Fatalf("top-level key %q of the compose schema has no sample here: decide how it is carried over or warned about", key)
			}
			head := "services:\n  web:\n    image: example/web:1.0\n"
			inc := compose.File{Name: "inc.yaml", Content: []byte("services:\n  inc:\n    image: example/inc:1.0\n")}
			base := convertFiles(t, []compose.File{{Name: "compose.yaml", Content: []byte(head)}, inc})
			res := convertFiles(t, []compose.File{{Name: "compose.yaml", Content: []byte(head + sample + "\n")}, inc})
			for _, w := range res.Warnings {
				if w.Key == key || strings.HasPrefix(w.Key, key+".") {
					if w.File != "compose.yaml" || w.Line == 0 {
						t.Errorf("warning about %s has no place: %+v", key, w)
					}
					return
				}
			}
			if key == "x-custom" || key == "version" {
				// An extension has no meaning to carry; version is
				// obsolete. Both must still be said.
				t.Errorf("%s: no warning says it has no effect", key)
				return
			}
			if reflect.DeepEqual(objectsOf(res), objectsOf(base)) {
				t.Errorf("%s is silently dropped", key)
			}
		})
	}
}

func convertFiles(t *testing.T, files []compose.File) *Result {
	t.Helper()
	res, err := convertSource(context.Background(), compose.Source{Files: files}, Options{})
	if err != nil {
		t.Fatalf("conversion failed: %s (%s)", meshdock.ErrorMessage(err), meshdock.ErrorCode(err))
	}
	return res
}

func warnedAbout(ws []meshdock.Warning, service, key string) (meshdock.Warning, bool) {
	for _, w := range ws {
		if w.Service == service && (w.Key == key || strings.HasPrefix(w.Key, key+".")) {
			return w, true
		}
	}
	return meshdock.Warning{}, false
}

func hasWarning(ws []meshdock.Warning, w meshdock.Warning) bool {
	return slices.ContainsFunc(ws, func(v meshdock.Warning) bool { return v.Key == w.Key && v.Message == w.Message })
}

func objectsOf(res *Result) string {
	b, _ := json.Marshal(res.Objects)
	return string(b)
}
