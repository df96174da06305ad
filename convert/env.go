package convert

import (
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
)

// envPass sets each container's environment, command and arguments from
// the compose project exactly as it was written. kompose rewrites them:
// env values that mention secrets (`/run/secrets/db_password` becomes
// `/run/secrets/db-password`), and `$` in `command` (`$$` becomes `$()`).
//
// The kubelet expands `$(VAR)` in these fields and turns `$$` into `$`;
// compose passes them as they are. Values that contain either are escaped
// so the container sees what compose would give it.
func envPass(s *state) error {
	for name, w := range s.pods {
		c := w.container()
		if c == nil {
			continue
		}
		svc := s.service(name)
		c.Env = nil
		for _, e := range envVars(svc.Environment) {
			c.Env = append(c.Env, corev1.EnvVar{Name: e.key, Value: kubeLiteral(e.value)})
		}
		c.Command = kubeLiterals(svc.Entrypoint)
		c.Args = kubeLiterals(svc.Command)
	}
	return nil
}

type envVar struct{ key, value string }

// envVars lists the environment entries that have a value, by name.
func envVars(env types.MappingWithEquals) []envVar {
	var out []envVar
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if v := env[k]; v != nil {
			out = append(out, envVar{k, *v})
		}
	}
	return out
}

// kubeLiteral escapes a value so the kubelet's $(VAR) expansion leaves it
// as it is. Values without `$(` or `$$` pass through the expansion
// unchanged and are kept readable.
func kubeLiteral(v string) string {
	if !strings.Contains(v, "$(") && !strings.Contains(v, "$$") {
		return v
	}
	return strings.ReplaceAll(v, "$", "$$")
}

func kubeLiterals(vs []string) []string {
	if len(vs) == 0 {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = kubeLiteral(v)
	}
	return out
}
