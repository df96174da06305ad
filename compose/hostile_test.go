package compose_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
)

// hostile is an upload designed to break a converter run by a server.
type hostile struct {
	name  string
	files map[string]string // compose.yaml and whatever else the upload holds
	env   map[string]string
	// want is "ok" (converts), "refused" (invalid or too_large), or ""
	// (either); in every case: no internal error, no time-out, nothing of
	// the server in what comes back.
	want string
	// has must appear in the error message or the warnings.
	has string
}

func hostileCases() []hostile {
	nest := strings.Repeat("${A:-", 50000) + "x" + strings.Repeat("}", 50000)
	many := func(format string, n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(strings.ReplaceAll(format, "N", itoa(i)))
		}
		return b.String()
	}
	return []hostile{
		{name: "pre_start hooks copying a large service", files: map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n    environment:\n" + many("      VN: v\n", 3000) + "    pre_start:\n" + many("      - {}\n", 3000)}, want: "refused", has: "YAML nodes"},
		{name: "a job with 12,000 schedules", files: map[string]string{"compose.yaml": "jobs:\n  j:\n    image: x\n    command: [" + strings.TrimSuffix(many("aN,", 2000), ",") + "]\n    triggers:\n      schedule:\n" + many("        - '* * * * *'\n", 12000)}, want: "refused"},
		{name: "20,000 large labels through an anchor", files: map[string]string{"compose.yaml": "x-v: &v " + strings.Repeat("v", 700) + "\nservices:\n  a:\n    image: x\n    labels:\n" + many("      lN: *v\n", 20000)}},
		{name: "extends copying a port range", files: map[string]string{"compose.yaml": "services:\n" + many("  sN: {extends: {file: base.yaml, service: big}}\n", 20), "base.yaml": "services: {big: {image: x, ports: ['1-65535:1-65535']}}\n"}, want: "refused", has: "ports"},
		{name: "jobs extending a port range", files: map[string]string{"compose.yaml": "services: {big: {image: x, ports: ['1-1999']}}\njobs:\n  j0: {image: x, ports: ['1-1999'], triggers: {manual: true}}\n" + many("  kN: {extends: j0, triggers: {manual: true}}\n", 300)}, want: "refused", has: "ports"},
		{name: "same-file extends of a port range", files: map[string]string{"compose.yaml": "services:\n  big: {image: x, ports: ['1-1999']}\n" + many("  sN: {extends: big}\n", 300)}, want: "refused", has: "ports"},
		{name: "a job named like an extension", files: map[string]string{"compose.yaml": "services: {extensions: {image: x}}\njobs: {x-foo: {image: job, triggers: {manual: true}}}\n"}, want: "ok"},
		{name: "recursive anchor", files: map[string]string{"compose.yaml": "services: &s {a: {image: x, labels: *s}}\n"}, want: "refused"},
		{name: "self-referential merge", files: map[string]string{"compose.yaml": "x: &x {<<: *x}\nservices: {a: {image: x}}\n"}, want: "refused"},
		{name: "deeply nested defaults", files: map[string]string{"compose.yaml": "services: {a: {image: \"" + nest + "\"}}\n"}, want: "refused", has: "nest"},
		{name: "4 MiB image name", files: map[string]string{"compose.yaml": "services: {a: {image: " + strings.Repeat("a", 3<<20) + "}}\n"}},
		{name: "10,000-character service name", files: map[string]string{"compose.yaml": "services: {" + strings.Repeat("s", 10000) + ": {image: x}}\n"}},
		{name: "100,000 variables in one service", files: map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n    environment:\n" + many("      VN: v\n", 100000)}, want: "refused", has: "YAML nodes"},
		{name: "100,000 command arguments", files: map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n    command:\n" + many("      - aN\n", 100000)}, want: "refused", has: "node"},
		{name: "include cycle", files: map[string]string{"compose.yaml": "include: [b.yaml]\nservices: {a: {image: x}}\n", "b.yaml": "include: [compose.yaml]\nservices: {b: {image: x}}\n"}, want: "refused"},
		{name: "include repeated", files: map[string]string{"compose.yaml": "include: [b.yaml, b.yaml, ./b.yaml]\nservices: {a: {image: x}}\n", "b.yaml": "services: {b: {image: x}}\n"}},
		{name: "include over https", files: map[string]string{"compose.yaml": "include: [https://example.com/compose.yaml]\nservices: {a: {image: x}}\n"}, want: "refused", has: "remote"},
		{name: "include oci", files: map[string]string{"compose.yaml": "include: ['oci://registry.example/app:1']\nservices: {a: {image: x}}\n"}, want: "refused", has: "remote"},
		{name: "extends over git", files: map[string]string{"compose.yaml": "services: {a: {extends: {file: 'git@github.com:x/y.git', service: b}}}\n"}, want: "refused"},
		{name: "healthcheck without a command", files: map[string]string{"compose.yaml": "services: {a: {image: x, healthcheck: {test: []}}}\n"}},
		{name: "healthcheck CMD alone", files: map[string]string{"compose.yaml": "services: {a: {image: x, healthcheck: {test: [CMD]}}}\n"}},
		{name: "healthcheck CMD-SHELL alone", files: map[string]string{"compose.yaml": "services: {a: {image: x, healthcheck: {test: [CMD-SHELL]}}}\n"}},
		{name: "healthcheck NONE with timings", files: map[string]string{"compose.yaml": "services: {a: {image: x, healthcheck: {test: [NONE], interval: 1ns, retries: 0}}}\n"}, want: "ok"},
		{name: "healthcheck 1ns", files: map[string]string{"compose.yaml": "services: {a: {image: x, healthcheck: {test: [CMD, x], interval: 1ns, timeout: 1ns, start_period: 1ns}}}\n"}, want: "ok"},
		{name: "healthcheck timeout past int32 seconds", files: map[string]string{"compose.yaml": "services: {a: {image: x, healthcheck: {test: [CMD, x], timeout: 2562047h}}}\n"}, want: "refused", has: "out of range"},
		{name: "negative replicas", files: map[string]string{"compose.yaml": "services: {a: {image: x, deploy: {replicas: -1}}}\n"}, want: "refused"},
		{name: "negative scale", files: map[string]string{"compose.yaml": "services: {a: {image: x, scale: -5}}\n"}, want: "refused"},
		{name: "fractional replicas", files: map[string]string{"compose.yaml": "services: {a: {image: x, deploy: {replicas: 1.5}}}\n"}, want: "refused"},
		{name: "negative memory", files: map[string]string{"compose.yaml": "services: {a: {image: x, mem_limit: -1}}\n"}, want: "refused"},
		{name: "memory 1e400", files: map[string]string{"compose.yaml": "services: {a: {image: x, deploy: {resources: {limits: {memory: 1e400}}}}}\n"}, want: "refused"},
		{name: "grace period overflow", files: map[string]string{"compose.yaml": "services: {a: {image: x, stop_grace_period: 9999999999h}}\n"}, want: "refused"},
		{name: "negative tmpfs size", files: map[string]string{"compose.yaml": "services: {a: {image: x, volumes: [{type: tmpfs, target: /t, tmpfs: {size: -1}}]}}\n"}, want: "refused"},
		{name: "port 0", files: map[string]string{"compose.yaml": "services: {a: {image: x, ports: ['0:0']}}\n"}},
		{name: "port past 16 bits", files: map[string]string{"compose.yaml": "services: {a: {image: x, ports: ['65536']}}\n"}, want: "refused"},
		{name: "huge port number", files: map[string]string{"compose.yaml": "services: {a: {image: x, ports: [99999999999999999999]}}\n"}, want: "refused"},
		{name: "negative port", files: map[string]string{"compose.yaml": "services: {a: {image: x, ports: ['-1:80']}}\n"}, want: "refused"},
		{name: "restart on-failure:-1", files: map[string]string{"compose.yaml": "services: {a: {image: x, restart: 'on-failure:-1'}}\n"}, want: "refused"},
		{name: "secret from /proc", files: map[string]string{"compose.yaml": "services: {a: {image: x, secrets: [s]}}\nsecrets: {s: {file: /proc/self/environ}}\n"}, want: "refused", has: "outside"},
		{name: "secret from stdin", files: map[string]string{"compose.yaml": "services: {a: {image: x, secrets: [s]}}\nsecrets: {s: {file: /dev/stdin}}\n"}, want: "refused", has: "outside"},
		{name: "secret is the project folder", files: map[string]string{"compose.yaml": "services: {a: {image: x, secrets: [s]}}\nsecrets: {s: {file: .}}\n"}, want: "refused"},
		{name: "secret from the process environment", files: map[string]string{"compose.yaml": "services: {a: {image: x, secrets: [s]}}\nsecrets: {s: {environment: MESHDOCK_HOSTILE_SECRET}}\n"}},
		{name: "config from the process environment", files: map[string]string{"compose.yaml": "services: {a: {image: x, configs: [c]}}\nconfigs: {c: {environment: MESHDOCK_HOSTILE_SECRET}}\n"}},
		{name: "config from HOME", files: map[string]string{"compose.yaml": "services: {a: {image: x, configs: [c]}}\nconfigs: {c: {environment: HOME}}\n"}},
		{name: "env_file of the process environment", files: map[string]string{"compose.yaml": "services: {a: {image: x, env_file: /proc/self/environ}}\n"}, want: "refused", has: "outside"},
		{name: "label_file is a folder", files: map[string]string{"compose.yaml": "services: {a: {image: x, label_file: sub}}\n", "sub/x": "y"}, want: "refused"},
		{name: "Windows pipe mount", files: map[string]string{"compose.yaml": "services: {a: {image: x, volumes: ['\\\\.\\pipe\\docker_engine:\\\\.\\pipe\\docker_engine']}}\n"}},
		{name: "Windows drive mount", files: map[string]string{"compose.yaml": "services: {a: {image: x, volumes: ['C:\\Users\\me:/data']}}\n"}},
		{name: "remote build context", files: map[string]string{"compose.yaml": "services: {a: {build: 'https://github.com/docker/compose.git#main'}}\n"}},
		{name: "network_mode host and friends", files: map[string]string{"compose.yaml": "services: {a: {image: x, network_mode: host, pid: host, ipc: host, privileged: true, devices: ['/dev/sda:/dev/sda']}}\n"}, want: "ok"},
		{name: "JSON compose file", files: map[string]string{"compose.yaml": `{"services": {"a": {"image": "x", "ports": ["80"]}}}`}, want: "ok"},
		{name: "two YAML documents", files: map[string]string{"compose.yaml": "services: {a: {image: x}}\n---\nservices: {b: {image: y}}\n"}},
		{name: "byte order mark", files: map[string]string{"compose.yaml": "\ufeffservices: {a: {image: x}}\n"}},
		{name: "CRLF line ends", files: map[string]string{"compose.yaml": "services:\r\n  a:\r\n    image: x\r\n"}, want: "ok"},
		{name: "NUL in a value", files: map[string]string{"compose.yaml": "services: {a: {image: \"x\\0y\"}}\n"}},
		{name: "services null", files: map[string]string{"compose.yaml": "services: null\n"}},
		{name: "services a list", files: map[string]string{"compose.yaml": "services: [a, b]\n"}, want: "refused"},
		{name: "project name climbing", files: map[string]string{"compose.yaml": "name: ../../etc\nservices: {a: {image: x}}\n"}},
		{name: "container_name climbing", files: map[string]string{"compose.yaml": "services: {a: {image: x, container_name: ../../x}}\n"}},
		{name: "odd service names", files: map[string]string{"compose.yaml": "services: {__proto__: {image: x}, constructor: {image: x}, '-': {image: x}, 'é': {image: x}}\n"}},
		{name: "1,000 networks", files: map[string]string{"compose.yaml": "services: {a: {image: x, networks: [" + strings.TrimSuffix(many("nN,", 1000), ",") + "]}}\nnetworks: {" + strings.TrimSuffix(many("nN: {},", 1000), ",") + "}\n"}},
		{name: "dependency chain of 1,000", files: map[string]string{"compose.yaml": chain(1000)}, want: "ok"},
		{name: "dependency fan of 1,000", files: map[string]string{"compose.yaml": "services:\n  db: {image: x, healthcheck: {test: [CMD, x]}}\n" + many("  sN: {image: x, depends_on: {db: {condition: service_healthy}}}\n", 999)}, want: "ok"},
		{name: "COMPOSE_PROFILES star", files: map[string]string{"compose.yaml": "services: {a: {image: x, profiles: [p]}}\n"}, env: map[string]string{"COMPOSE_PROFILES": "*"}},
		{name: "variable names a file outside", files: map[string]string{"compose.yaml": "services: {a: {image: x, env_file: \"${F}\"}}\n"}, env: map[string]string{"F": "/etc/passwd"}, want: "refused", has: "outside"},
		{name: "variable climbs out", files: map[string]string{"compose.yaml": "services: {a: {image: x, secrets: [s]}}\nsecrets: {s: {file: \"${F}\"}}\n"}, env: map[string]string{"F": "../../../../../../etc/shadow"}, want: "refused", has: "outside"},
		{name: "required variable message", files: map[string]string{"compose.yaml": "services: {a: {image: \"${X:?$HOME}\"}}\n"}, want: "refused"},
		{name: "secret mode as text", files: map[string]string{"compose.yaml": "services: {a: {image: x, secrets: [{source: s, mode: '0777abc'}]}}\nsecrets: {s: {file: ./s}}\n", "s": "x"}, want: "refused"},
		// Found by a second review, each once a way past the limits.
		{name: "variables of an included file", files: map[string]string{".env": "BIG=" + strings.Repeat("b", 1<<20) + "\n",
			"compose.yaml": "include: [inc.yaml]\n", "inc.yaml": "services:\n  a:\n    image: x\n    labels:\n" + many("      lN: ${BIG}\n", 300)}, want: "refused", has: "more than 16.0 MiB"},
		{name: "include env_file doubling", files: map[string]string{"compose.yaml": "include: [{path: sub/compose.yaml, env_file: inc.env}]\n",
			"sub/compose.yaml": "services: {a: {image: \"x${V18}\"}}\n", "inc.env": "V0=" + strings.Repeat("v", 1024) + "\n" + chainedEnv(18)}, want: "refused", has: "inc.env: its variables expand"},
		{name: "included .env doubling", files: map[string]string{"compose.yaml": "include: [sub/compose.yaml]\n",
			"sub/compose.yaml": "services: {a: {image: \"x${V18}\"}}\n", "sub/.env": "V0=" + strings.Repeat("v", 1024) + "\n" + chainedEnv(18)}, want: "refused", has: "sub/.env: its variables expand"},
		{name: "long string through aliases", files: map[string]string{"compose.yaml": "x-big: &big " + strings.Repeat("x", 3<<20) + "\nservices:\n" + many("  sN: {image: nginx, environment: {A: *big}}\n", 200)}, want: "refused", has: "of text"},
		{name: "3,000 unset variables", files: map[string]string{"compose.yaml": "services: {a: {image: x, labels: {l: \"" + many("$VN", 3000) + "\"}}}\n"}, want: "ok"},
		{name: "20,000 unset variables", files: map[string]string{"compose.yaml": "services: {a: {image: x, labels: {l: \"" + many("${VN}", 20000) + "\"}}}\n"}, want: "ok", has: "more warnings are left out"},
		{name: "include path list", files: map[string]string{"compose.yaml": "include: [{path: [" + strings.TrimSuffix(strings.Repeat("a.yaml, ", 500), ", ") + "]}]\n", "a.yaml": "services: {a: {image: x}}\n"}, want: "refused", has: "more than 100 files"},
		{name: "include repeated 20,000 times", files: map[string]string{"compose.yaml": "include: [" + strings.TrimSuffix(strings.Repeat("a.yaml, ", 20000), ", ") + "]\n", "a.yaml": "services: {a: {image: x}}\n"}, want: "refused", has: "more than 100 files"},
		{name: "extends from a large file", files: map[string]string{"b.yaml": "services:\n  base: {image: x}\n  big:\n    image: x\n    environment:\n" + many("      VN: v\n", 60000),
			"compose.yaml": "services:\n" + many("  sN: {extends: {file: b.yaml, service: base}}\n", 1000)}, want: "refused", has: "YAML nodes"},
		{name: "20,000 ports named in a config", files: map[string]string{"compose.yaml": "services:\n  web: {image: x, expose: ['80']}\n  client: {image: x, configs: [c]}\nconfigs: {c: {file: ./c.txt}}\n",
			"c.txt": many("web:N ", 20000)}, want: "ok", has: "no more are added"},
		{name: "override mounts ~ over an absolute path", files: map[string]string{"compose.yaml": "services: {web: {image: nginx, volumes: ['/etc:/t']}}\n",
			"compose.override.yaml": "services: {web: {volumes: ['~/.ssh:/t']}}\n"}, want: "ok", has: "~/.ssh"},
		{name: "extends file a list", files: map[string]string{"compose.yaml": "services: {a: {image: x}, b: {extends: {service: a, file: [x]}}}\n"}, want: "refused", has: "extends.file must be a string"},
		{name: "extends file a number", files: map[string]string{"compose.yaml": "services: {a: {image: x}, b: {extends: {service: a, file: 12}}}\n"}, want: "refused", has: "extends.file must be a string"},
		{name: "extends a number", files: map[string]string{"compose.yaml": "services: {a: {image: x}, b: {extends: 12}}\n"}, want: "refused"},
		{name: "extends service null", files: map[string]string{"compose.yaml": "services: {a: {image: x}, b: {extends: {service: null}}}\n"}, want: "refused"},
		{name: "extends service a mapping", files: map[string]string{"compose.yaml": "services: {a: {image: x}, b: {extends: {service: {x: 1}}}}\n"}, want: "refused", has: "extends.service must be a string"},
		{name: "kompose label past int32", files: map[string]string{"compose.yaml": "services: {a: {image: x, labels: {kompose.hpa.replicas.min: '99999999999999'}}}\n"}, want: "refused", has: "kompose.hpa.replicas.min"},
		{name: "every service depends on every other", files: map[string]string{"compose.yaml": "x-all: &all [" + strings.TrimSuffix(many("sN, ", 300), ", ") + "]\nservices:\n" + many("  sN: {image: x, depends_on: *all}\n", 300)}, want: "refused", has: "depends_on and links entries"},
		// Found by a third review: what aliases, merge keys and nested
		// includes hid from checks that read the YAML as written.
		{name: "port range through an alias", files: map[string]string{"compose.yaml": "x-p: &p ['1-65535:1-65535']\nservices: {a: {image: x, ports: *p}}\n"}, want: "refused", has: "at most 2000"},
		{name: "port range item through an alias", files: map[string]string{"compose.yaml": "x-r: &r '1-65535:1-65535'\nservices: {a: {image: x, ports: [*r]}}\n"}, want: "refused", has: "at most 2000"},
		{name: "port ranges through merge keys", files: map[string]string{"compose.yaml": "x-p: &p {image: x, ports: ['1-65535:1-65535']}\nservices:\n" + many("  sN: {<<: *p}\n", 10)}, want: "refused", has: "at most 2000"},
		{name: "port range from an include's .env", files: map[string]string{"compose.yaml": "include: [sub/compose.yaml]\n", "sub/compose.yaml": "services: {a: {image: x, ports: ['${R}:${R}']}}\n", "sub/.env": "R=1-65535\n"}, want: "refused", has: "at most 2000"},
		{name: "extends through a merge key", files: map[string]string{"compose.yaml": "x-e: &e {extends: big}\nservices:\n  big:\n    image: x\n    environment:\n" + many("      VN: v\n", 40000) + many("  sN: {<<: *e}\n", 40)}, want: "refused", has: "YAML nodes"},
		{name: "extends of another file from an include", files: map[string]string{"compose.yaml": "include: [sub/compose.yaml]\n", "sub/compose.yaml": "services:\n" + many("  sN: {extends: {file: ../base.yaml, service: big}}\n", 40),
			"base.yaml": "services:\n  big:\n    image: x\n    environment:\n" + many("      VN: v\n", 40000)}, want: "refused", has: "YAML nodes"},
		{name: "extends file a number through a merge key", files: map[string]string{"compose.yaml": "x-e: &e {extends: {service: b, file: 5}}\nservices: {b: {image: nginx}, a: {<<: *e}}\n"}, want: "refused", has: "extends.file must be a string"},
		{name: "project_directory .env doubling", files: map[string]string{"compose.yaml": "include: [{path: sub/compose.yaml, project_directory: sub}]\n",
			"sub/compose.yaml": "services: {a: {image: \"x${V17}\"}}\n", "sub/.env": "V0=" + strings.Repeat("v", 1024) + "\n" + chainedEnv(17)}, want: "refused", has: "project_directory is not supported"},
		{name: "nested include env_file doubling", files: map[string]string{"compose.yaml": "include: [sub/compose.yaml]\n", "sub/compose.yaml": "include: [{path: c.yaml, env_file: big.env}]\n",
			"sub/c.yaml": "services: {a: {image: \"x${V17}\"}}\n", "sub/big.env": "V0=" + strings.Repeat("v", 1024) + "\n" + chainedEnv(17)}, want: "refused", has: "env_file is not supported in an included file"},
		{name: "nested include relative to its file", files: map[string]string{"compose.yaml": "include: [sub/compose.yaml]\n", "sub/compose.yaml": "include: [c.yaml]\nservices: {b: {image: y}}\n",
			"sub/c.yaml": "services: {c: {image: right}}\n", "c.yaml": "services: {c: {image: wrong}}\n"}, want: "ok", has: "image: right"},
		// Found by a fourth review: where meshdock's YAML parser and
		// compose-go's could see different files.
		{name: "a second YAML document", files: map[string]string{"compose.yaml": "services: {a: {image: nginx}}\n---\ninclude: [{path: sub/compose.yaml, env_file: /etc/passwd}]\n", "sub/compose.yaml": "services: {b: {image: x}}\n"}, want: "refused", has: "more than one YAML document"},
		{name: "port ranges in a second document", files: map[string]string{"compose.yaml": "services: {a: {image: nginx}}\n---\nservices: {s0: {image: nginx, ports: ['1-65535:1-65535']}}\n"}, want: "refused", has: "more than one YAML document"},
		{name: "binary env_file", files: map[string]string{"compose.yaml": "include: [{path: sub/compose.yaml, env_file: !!binary L2V0Yy9wYXNzd2Q=}]\n", "sub/compose.yaml": "services: {b: {image: x}}\n"}, want: "refused", has: "tag !!binary is not supported"},
		{name: "binary key", files: map[string]string{"compose.yaml": "include: [{path: sub/compose.yaml, !!binary ZW52X2ZpbGU= : /etc/passwd}]\n", "sub/compose.yaml": "services: {b: {image: x}}\n"}, want: "refused", has: "tag !!binary is not supported"},
		{name: "alias as a key", files: map[string]string{"compose.yaml": "x-k: &k env_file\ninclude:\n  - path: sub/compose.yaml\n    *k : /etc/passwd\n", "sub/compose.yaml": "services: {b: {image: x}}\n"}, want: "refused", has: "a key is an alias"},
		{name: "a mapping as a key", files: map[string]string{"compose.yaml": "services: {? {a: 1} : {image: x}}\n"}, want: "refused", has: "a key is a mapping"},
		{name: "unknown local tag", files: map[string]string{"compose.yaml": "services: {a: {image: !custom x}}\n"}, want: "refused", has: "tag !custom is not supported"},
		{name: "reset and override tags", files: map[string]string{"compose.yaml": "services: {a: {image: x, ports: ['80']}}\n", "compose.override.yaml": "services: {a: {ports: !reset [], environment: !override {A: '1'}}}\n"}, want: "ok"},
		{name: "project_directory deep", files: map[string]string{"compose.yaml": "include: [{path: " + strings.Repeat("a/", 20) + "inc.yaml, project_directory: x}]\n",
			strings.Repeat("a/", 20) + "inc.yaml": "include: [{path: leaf.yaml, env_file: " + strings.Repeat("../", 20) + "etc/passwd}]\n", strings.Repeat("a/", 20) + "leaf.yaml": "services: {b: {image: x}}\n"}, want: "refused", has: "not supported"},
		{name: "x-extension of 100,000 nodes", files: map[string]string{"compose.yaml": "x-big:\n" + many("  - N\n", 150000) + "services: {a: {image: x}}\n"}, want: "refused", has: "YAML nodes"},
	}
}

// chainedEnv writes env lines V1..Vn, each twice the one before.
func chainedEnv(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "V%d=${V%d}${V%d}\n", i, i-1, i-1)
	}
	return b.String()
}

// chain writes n services, each depending on the one before.
func chain(n int) string {
	var b strings.Builder
	b.WriteString("services:\n  s0: {image: x}\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  s%d: {image: x, depends_on: [s%d]}\n", i, i-1)
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestHostileInputs: none of these may crash, hang, blame meshdock wrongly
// or leak the server; each is refused or converted as its case says.
func TestHostileInputs(t *testing.T) {
	const secret = "hostile-marker-from-the-server"
	t.Setenv("MESHDOCK_HOSTILE_SECRET", secret)
	home := filepath.Join(t.TempDir(), "hostile-home-marker")
	os.MkdirAll(home, 0o700)
	t.Setenv("HOME", home)
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			src := compose.Source{Name: "hostile", Env: c.env}
			for n, content := range c.files {
				src.Files = append(src.Files, compose.File{Name: n, Content: []byte(content)})
			}
			res, err := convertNoPanic(src, convert.Options{BindMounts: convert.BindMountsHostPath})
			var text string
			if err != nil {
				switch code := meshdock.ErrorCode(err); code {
				case meshdock.EINVALID, meshdock.ETOOLARGE:
				default:
					t.Fatalf("error with code %s: %v", code, err)
				}
				if c.want == "ok" {
					t.Fatalf("refused: %v", err)
				}
				text = meshdock.ErrorMessage(err)
				t.Logf("refused: %.200s", text)
			} else {
				if c.want == "refused" {
					t.Fatalf("converted, want a refusal")
				}
				var out bytes.Buffer
				convert.WriteYAML(&out, res.Objects)
				ws, _ := json.Marshal(res.Warnings)
				g, _ := json.Marshal(res.Graph)
				if out.Len() > convert.MaxOutputSize*2 {
					t.Errorf("%d bytes of manifests", out.Len())
				}
				text = out.String() + string(ws) + string(g)
			}
			for _, leak := range []string{secret, "hostile-home-marker", "meshdock-src-"} {
				if strings.Contains(text, leak) {
					t.Errorf("the answer holds %q", leak)
				}
			}
			if c.has != "" && !strings.Contains(text, c.has) {
				t.Errorf("the answer lacks %q: %.300s", c.has, text)
			}
		})
	}
}
