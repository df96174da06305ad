package engine

import (
	"context"

	"github.com/docker/docker/api/types/container"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
)

// Engine is what meshdock asks of a Docker Engine.
type Engine interface {
	// Info reports the engine's version.
	Info(ctx context.Context) (Info, error)
	// Projects lists the compose projects that have containers, running
	// or stopped, sorted by name.
	Projects(ctx context.Context) ([]Project, error)
	// Containers inspects the containers of one project's services
	// (one-off `docker compose run` containers excluded), sorted by
	// service and container number.
	Containers(ctx context.Context, project string) ([]container.InspectResponse, error)
	// Rebuild writes a compose file for a project from its containers, and
	// warns about what the containers do not tell.
	Rebuild(ctx context.Context, project string) ([]compose.File, []meshdock.Warning, error)
	// Build builds spec.Tag from its context, calling log with each line
	// of the build's output as it comes.
	Build(ctx context.Context, spec BuildSpec, log func(line string)) error
	// ImageExists reports whether the engine has the image ref, found as
	// `docker image inspect` finds it.
	ImageExists(ctx context.Context, ref string) (bool, error)
	// ImageLabels returns the labels of the image ref, and whether the
	// engine has it.
	ImageLabels(ctx context.Context, ref string) (map[string]string, bool, error)
	// NodeContainers returns, for each of the Kubernetes node names, the
	// engine's running container of that name, when the engine shows that
	// the container belongs to the cluster whose API server is published on
	// apiHost:apiPort of this machine (kind and k3d run their nodes as
	// containers named after them); names with no such container are left
	// out, and all of them for a host that is not this machine's.
	NodeContainers(ctx context.Context, apiHost string, apiPort int, nodes []string) (map[string]string, error)
	// LoadImage imports the engine's image into the containerd of a node
	// container, as `kind load docker-image` does.
	LoadImage(ctx context.Context, image, container string) error
}

// Info describes the engine.
type Info struct {
	Version    string `json:"version"`
	APIVersion string `json:"apiVersion"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

// Project is a compose project as the engine sees it.
type Project struct {
	Name string `json:"name"`
	// WorkingDir and ConfigFiles are where `docker compose` ran and which
	// files it read, as recorded in the labels; EnvFiles likewise when the
	// compose version records them.
	WorkingDir  string   `json:"workingDir,omitempty"`
	ConfigFiles []string `json:"configFiles,omitempty"`
	EnvFiles    []string `json:"envFiles,omitempty"`
	// Disputed says its containers name different folders or files: one
	// not of the project may carry its name, so none are named above.
	Disputed bool      `json:"disputed,omitempty"`
	Services []Service `json:"services"`
	// State summarises the containers: "running", "exited", or
	// "partial" when some run and some do not.
	State string `json:"state"`
}

// ServiceNames names the project's services that have containers.
func (p *Project) ServiceNames() []string {
	out := make([]string, 0, len(p.Services))
	for _, s := range p.Services {
		out = append(out, s.Name)
	}
	return out
}

// Service is one compose service of a project.
type Service struct {
	Name       string      `json:"name"`
	Image      string      `json:"image"`
	Containers []Container `json:"containers"`
}

// Container is one container of a service.
type Container struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Number int    `json:"number"`
	State  string `json:"state"`
	Status string `json:"status"`
	Image  string `json:"image"`
	OneOff bool   `json:"oneOff,omitempty"`
}

// Unavailable is the Engine there is when no Docker Engine can be used: every
// call fails with an EUNAVAILABLE error that says why.
type Unavailable struct {
	// Reason is why there is no engine; its message is shown to users.
	Reason string
}

func (u Unavailable) err() error {
	return meshdock.Errorf(meshdock.EUNAVAILABLE, "no Docker Engine: %s", u.Reason)
}

// Info implements Engine.
func (u Unavailable) Info(context.Context) (Info, error) { return Info{}, u.err() }

// Projects implements Engine.
func (u Unavailable) Projects(context.Context) ([]Project, error) { return nil, u.err() }

// Containers implements Engine.
func (u Unavailable) Containers(context.Context, string) ([]container.InspectResponse, error) {
	return nil, u.err()
}

// Rebuild implements Engine.
func (u Unavailable) Rebuild(context.Context, string) ([]compose.File, []meshdock.Warning, error) {
	return nil, nil, u.err()
}

// Build implements Engine.
func (u Unavailable) Build(context.Context, BuildSpec, func(string)) error { return u.err() }

// ImageExists implements Engine.
func (u Unavailable) ImageExists(context.Context, string) (bool, error) { return false, u.err() }

// ImageLabels implements Engine.
func (u Unavailable) ImageLabels(context.Context, string) (map[string]string, bool, error) {
	return nil, false, u.err()
}

// NodeContainers implements Engine.
func (u Unavailable) NodeContainers(context.Context, string, int, []string) (map[string]string, error) {
	return nil, u.err()
}

// LoadImage implements Engine.
func (u Unavailable) LoadImage(context.Context, string, string) error { return u.err() }
