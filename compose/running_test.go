package compose_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/meshdock/meshdock/compose"
)

// A running project is loaded with the profiles its running services were
// started under; a file missing for a profile nobody started does not
// stop it, one missing for a running service does.
func TestLoadRunning(t *testing.T) {
	const file = "services:\n  web:\n    image: nginx\n  debug:\n    image: busybox\n    profiles: [debug]\n    env_file: debug.env\n" +
		"  never:\n    image: busybox\n    profiles: [never]\n    env_file: never.env\n"
	src := func(files ...string) compose.Source {
		s := compose.Source{Name: "p", Files: []compose.File{{Name: "compose.yaml", Content: []byte(file)}}}
		for _, f := range files {
			s.Files = append(s.Files, compose.File{Name: f, Content: []byte("A=1\n")})
		}
		return s
	}
	services := func(p *compose.Project) string {
		var out []string
		for n := range p.Services {
			out = append(out, n)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		name           string
		src            compose.Source
		running        []string
		want, profiles string
		err            string
	}{
		{"every file there", src("debug.env", "never.env"), []string{"web", "debug"}, "debug,web", "debug", ""},
		{"a file of an unstarted profile missing", src("debug.env"), []string{"web", "debug"}, "debug,web", "debug", ""},
		{"defaults only", src(), []string{"web"}, "web", "", ""},
		{"a running service's file missing", src("never.env"), []string{"web", "debug"}, "", "", "debug.env"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, load := range []compose.Loader{compose.LoadOnly, compose.Snapshot} {
				p, out, err := compose.LoadRunning(context.Background(), c.src, c.running, load)
				if c.err != "" {
					if err == nil || !strings.Contains(err.Error(), c.err) {
						t.Errorf("error %v, want one naming %s", err, c.err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := services(p); got != c.want || strings.Join(out.Profiles, ",") != c.profiles {
					t.Errorf("services %s with profiles %q, want %s with %q", got, out.Profiles, c.want, c.profiles)
				}
			}
		})
	}
}
