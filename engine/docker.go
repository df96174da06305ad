package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/meshdock/meshdock"
)

// Labels docker compose puts on the containers it creates.
const (
	labelProject     = "com.docker.compose.project"
	labelService     = "com.docker.compose.service"
	labelConfigFiles = "com.docker.compose.project.config_files"
	labelWorkingDir  = "com.docker.compose.project.working_dir"
	labelEnvFiles    = "com.docker.compose.project.environment_file"
	labelOneOff      = "com.docker.compose.oneoff"
	labelNumber      = "com.docker.compose.container-number"
	labelDependsOn   = "com.docker.compose.depends_on"
)

// Docker is the Engine of a real Docker Engine reached through its API.
type Docker struct {
	c    *client.Client
	host string
}

// New returns the Engine at host ("unix:///var/run/docker.sock",
// "tcp://..."); an empty host means $DOCKER_HOST or the default socket.
// When that socket does not exist it returns Unavailable, so the server
// can start and say why there is no engine.
func New(host string) (Engine, error) {
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host == "" {
		host = client.DefaultDockerHost
	}
	if sock, ok := strings.CutPrefix(host, "unix://"); ok {
		if _, err := os.Stat(sock); err != nil {
			return Unavailable{Reason: fmt.Sprintf("%s does not exist; is Docker running?", sock)}, nil
		}
	}
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return Unavailable{Reason: fmt.Sprintf("DOCKER_HOST %q cannot be used: %v", host, err)}, nil
	}
	return &Docker{c: c, host: host}, nil
}

// Close releases the client's connections.
func (d *Docker) Close() error { return d.c.Close() }

// failed classifies an error of the engine's API.
func (d *Docker) failed(err error, format string, args ...any) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case client.IsErrConnectionFailed(err):
		return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "the Docker Engine at %s cannot be reached", d.host)
	case cerrdefs.IsNotFound(err):
		return meshdock.Wrap(meshdock.ENOTFOUND, err, "%s: %v", fmt.Sprintf(format, args...), err)
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}

// Info implements Engine.
func (d *Docker) Info(ctx context.Context) (Info, error) {
	v, err := d.c.ServerVersion(ctx)
	if err != nil {
		return Info{}, d.failed(err, "engine version")
	}
	return Info{Version: v.Version, APIVersion: v.APIVersion, OS: v.Os, Arch: v.Arch}, nil
}

// Projects implements Engine.
func (d *Docker) Projects(ctx context.Context) ([]Project, error) {
	list, err := d.c.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", labelProject))})
	if err != nil {
		return nil, d.failed(err, "list containers")
	}
	return groupProjects(list), nil
}

// groupProjects groups containers into projects and services by their labels.
func groupProjects(list []container.Summary) []Project {
	byName := map[string]*Project{}
	for _, c := range list {
		name := c.Labels[labelProject]
		p := byName[name]
		if p == nil {
			p = &Project{Name: name}
			byName[name] = p
		}
		// Every container of a project carries the project's labels; the
		// first non-empty one wins (one-offs may come from other files).
		// Two of its services' containers that disagree are disputed: any
		// container can carry a project's name, and which one is the
		// project's cannot be told.
		oneOff := strings.EqualFold(c.Labels[labelOneOff], "true")
		if wd := c.Labels[labelWorkingDir]; p.WorkingDir == "" {
			p.WorkingDir = wd
			p.ConfigFiles = splitList(c.Labels[labelConfigFiles])
			p.EnvFiles = splitList(c.Labels[labelEnvFiles])
		} else if !oneOff && wd != "" && (wd != p.WorkingDir || !slices.Equal(splitList(c.Labels[labelConfigFiles]), p.ConfigFiles) ||
			!slices.Equal(splitList(c.Labels[labelEnvFiles]), p.EnvFiles)) {
			p.Disputed = true
		}
		svc := c.Labels[labelService]
		i := sort.Search(len(p.Services), func(i int) bool { return p.Services[i].Name >= svc })
		if i == len(p.Services) || p.Services[i].Name != svc {
			p.Services = append(p.Services, Service{})
			copy(p.Services[i+1:], p.Services[i:])
			p.Services[i] = Service{Name: svc, Image: c.Image}
		}
		num, _ := strconv.Atoi(c.Labels[labelNumber])
		name0 := ""
		if len(c.Names) > 0 {
			name0 = strings.TrimPrefix(c.Names[0], "/")
		}
		p.Services[i].Containers = append(p.Services[i].Containers, Container{
			ID: c.ID, Name: name0, Number: num, State: string(c.State), Status: c.Status,
			Image: c.Image, OneOff: oneOff,
		})
	}
	projects := make([]Project, 0, len(byName))
	for _, p := range byName {
		running, total := 0, 0
		for _, s := range p.Services {
			sort.Slice(s.Containers, func(i, j int) bool {
				a, b := s.Containers[i], s.Containers[j]
				if a.OneOff != b.OneOff {
					return !a.OneOff
				}
				return a.Number < b.Number || a.Number == b.Number && a.Name < b.Name
			})
			for _, c := range s.Containers {
				if c.OneOff {
					continue
				}
				total++
				if c.State == string(container.StateRunning) {
					running++
				}
			}
		}
		if p.Disputed {
			p.WorkingDir, p.ConfigFiles, p.EnvFiles = "", nil, nil
		}
		switch {
		case running == total:
			p.State = "running"
		case running == 0:
			p.State = "exited"
		default:
			p.State = "partial"
		}
		projects = append(projects, *p)
	}
	sort.Slice(projects, func(i, j int) bool { return projects[i].Name < projects[j].Name })
	return projects
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// Containers implements Engine.
func (d *Docker) Containers(ctx context.Context, project string) ([]container.InspectResponse, error) {
	list, err := d.c.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", labelProject+"="+project))})
	if err != nil {
		return nil, d.failed(err, "list containers of %s", project)
	}
	var out []container.InspectResponse
	for _, c := range list {
		if strings.EqualFold(c.Labels[labelOneOff], "true") {
			continue
		}
		ci, err := d.c.ContainerInspect(ctx, c.ID)
		if cerrdefs.IsNotFound(err) {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, d.failed(err, "inspect container %s", c.ID)
		}
		out = append(out, ci)
	}
	if len(out) == 0 {
		return nil, meshdock.Errorf(meshdock.ENOTFOUND, "no compose project named %q: the Docker Engine has no containers of it", project)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Config.Labels, out[j].Config.Labels
		if a[labelService] != b[labelService] {
			return a[labelService] < b[labelService]
		}
		na, _ := strconv.Atoi(a[labelNumber])
		nb, _ := strconv.Atoi(b[labelNumber])
		return na < nb
	})
	return out, nil
}
