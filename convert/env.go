package convert

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// envPass sets each container's environment from the compose project as it
// was written: kompose rewrites values that mention secrets
// (`/run/secrets/db_password` becomes `/run/secrets/db-password`).
func envPass(s *state) error {
	for name, w := range s.pods {
		c := w.container()
		if c == nil {
			continue
		}
		env := s.service(name).Environment
		keys := make([]string, 0, len(env))
		for k, v := range env {
			if v != nil {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		c.Env = nil
		for _, k := range keys {
			c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: *env[k]})
		}
	}
	return nil
}
