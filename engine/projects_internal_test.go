package engine

import (
	"testing"

	"github.com/docker/docker/api/types/container"
)

// A project's folder and files are those its containers name; when two of
// its services' containers disagree (any container can carry a project's
// name), none are named and the project is marked disputed. A one-off
// container from other files does not dispute them.
func TestGroupProjectsDisputed(t *testing.T) {
	c := func(project, service, dir, files string, oneOff bool) container.Summary {
		l := map[string]string{labelProject: project, labelService: service, labelWorkingDir: dir, labelConfigFiles: files}
		if oneOff {
			l[labelOneOff] = "True"
		}
		return container.Summary{ID: project + service + dir, Labels: l, State: container.StateRunning}
	}
	got := groupProjects([]container.Summary{
		c("shop", "web", "/home/me/shop", "/home/me/shop/compose.yaml", false),
		c("shop", "db", "/home/me/shop", "/home/me/shop/compose.yaml", false),
		c("shop", "web", "/home/me/other", "/home/me/other/compose.yaml", true),
		c("taken", "web", "/home/me/taken", "/home/me/taken/compose.yaml", false),
		c("taken", "evil", "/home/me", "/home/me/compose.yaml", false),
		c("files", "web", "/home/me/files", "/home/me/files/compose.yaml", false),
		c("files", "db", "/home/me/files", "/home/me/files/compose.yaml,/home/me/.aws/credentials", false),
	})
	want := map[string]bool{"shop": false, "taken": true, "files": true}
	for _, p := range got {
		if p.Disputed != want[p.Name] || p.Disputed != (p.WorkingDir == "" && p.ConfigFiles == nil) {
			t.Errorf("%s: disputed %v, folder %q, files %q", p.Name, p.Disputed, p.WorkingDir, p.ConfigFiles)
		}
	}
	if len(got) != 3 || got[1].WorkingDir != "/home/me/shop" || len(got[1].ConfigFiles) != 1 {
		t.Errorf("projects: %+v", got)
	}
}
