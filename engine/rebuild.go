package engine

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
)

// Rebuild implements Engine.
func (d *Docker) Rebuild(ctx context.Context, project string) ([]compose.File, []meshdock.Warning, error) {
	cs, err := d.Containers(ctx, project)
	if err != nil {
		return nil, nil, err
	}
	images := map[string]*image.InspectResponse{}
	for _, c := range cs {
		if _, seen := images[c.Image]; seen {
			continue
		}
		img, err := d.c.ImageInspect(ctx, c.Image)
		switch {
		case cerrdefs.IsNotFound(err):
			images[c.Image] = nil // removed since the container was created
		case err != nil:
			return nil, nil, d.failed(err, "inspect image %s", c.Image)
		default:
			images[c.Image] = &img
		}
	}
	p, warnings := RebuildProject(project, cs, images)
	y, err := p.MarshalYAML()
	if err != nil {
		return nil, nil, fmt.Errorf("write the rebuilt compose file of %s: %w", project, err)
	}
	for i := range warnings {
		warnings[i].File = RebuiltFile
	}
	return []compose.File{{Name: RebuiltFile, Content: y}}, warnings, nil
}

// RebuiltFile is the name of the compose file Rebuild writes.
const RebuiltFile = "compose.yaml"

// RebuildProject builds a compose project from inspected containers and
// their images (keyed by image ID; nil for an image that is gone). What a
// container has only because its image says so is left out, since compose
// would not write it either.
func RebuildProject(name string, cs []container.InspectResponse, images map[string]*image.InspectResponse) (*types.Project, []meshdock.Warning) {
	r := &rebuild{p: &types.Project{Name: name, Services: types.Services{},
		Networks: types.Networks{}, Volumes: types.Volumes{}}, ids: map[string]string{}}
	r.warn("", "", "rebuilt from the containers: variables, env_file, profiles, build sections, "+
		"secret and config definitions and extension fields are not kept by the Docker Engine; "+
		"values appear as they were resolved when the containers were created")
	byService := map[string][]container.InspectResponse{}
	var order []string
	for _, c := range cs {
		if c.Config == nil || c.ContainerJSONBase == nil || c.HostConfig == nil {
			continue
		}
		svc := c.Config.Labels[labelService]
		if byService[svc] == nil {
			order = append(order, svc)
		}
		byService[svc] = append(byService[svc], c)
		r.ids[c.ID] = svc
	}
	sort.Strings(order)
	for _, svc := range order {
		first := byService[svc][0]
		s := r.service(svc, first, images[first.Image])
		if n := len(byService[svc]); n > 1 {
			s.Scale = &n
		}
		r.p.Services[svc] = s
	}
	for _, svc := range order {
		r.dependsOn(svc, byService[svc][0])
	}
	if len(r.p.Networks) == 0 {
		r.p.Networks = nil
	}
	if len(r.p.Volumes) == 0 {
		r.p.Volumes = nil
	}
	return r.p, r.warnings
}

type rebuild struct {
	p        *types.Project
	ids      map[string]string // container ID -> service
	warnings []meshdock.Warning
}

func (r *rebuild) warn(service, key, format string, args ...any) {
	r.warnings = append(r.warnings, meshdock.Warning{Service: service, Key: key, Message: fmt.Sprintf(format, args...)})
}

// esc keeps a value literal: the rebuilt file is loaded with interpolation,
// and a `$` that was in a container's value must stay a `$`.
func esc(s string) string { return strings.ReplaceAll(s, "$", "$$") }

func escAll(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = esc(s)
	}
	return out
}

func (r *rebuild) service(name string, c container.InspectResponse, img *image.InspectResponse) types.ServiceConfig {
	cfg, hc := c.Config, c.HostConfig
	var def imageDefaults
	if img != nil && img.Config != nil {
		ic := img.Config
		def = imageDefaults{env: ic.Env, cmd: ic.Cmd, entrypoint: ic.Entrypoint, labels: ic.Labels,
			exposed: ic.ExposedPorts, volumes: ic.Volumes, user: ic.User, workdir: ic.WorkingDir,
			stopSignal: ic.StopSignal, health: ic.Healthcheck}
	} else {
		r.warn(name, "image", "the image %s is gone: environment, command and labels may include the image's own defaults", cfg.Image)
	}
	s := types.ServiceConfig{Name: name}
	s.Image = cfg.Image
	if built := strings.TrimSuffix(cfg.Image, ":latest"); built == r.p.Name+"-"+name || built == r.p.Name+"_"+name {
		r.warn(name, "build", "the image %s looks built by compose from a build: section; the build context cannot be recovered, so the image must exist where the app runs", cfg.Image)
	}
	if !slices.Equal(cfg.Entrypoint, def.entrypoint) {
		s.Entrypoint = escAll(cfg.Entrypoint)
	}
	if !slices.Equal(cfg.Cmd, def.cmd) && !(len(cfg.Cmd) == 0 && s.Entrypoint != nil) {
		s.Command = escAll(cfg.Cmd)
	}
	s.Environment = types.MappingWithEquals{}
	for _, kv := range cfg.Env {
		if slices.Contains(def.env, kv) {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		v = esc(v)
		s.Environment[k] = &v
	}
	if cfg.User != def.user {
		s.User = cfg.User
	}
	if cfg.WorkingDir != def.workdir {
		s.WorkingDir = cfg.WorkingDir
	}
	if cfg.Hostname != "" && !strings.HasPrefix(c.ID, cfg.Hostname) {
		s.Hostname = cfg.Hostname
	}
	cname := strings.TrimPrefix(c.Name, "/")
	num := cfg.Labels[labelNumber]
	if cname != r.p.Name+"-"+name+"-"+num && cname != r.p.Name+"_"+name+"_"+num {
		s.ContainerName = cname
	}
	s.Labels = types.Labels{}
	for k, v := range cfg.Labels {
		if strings.HasPrefix(k, "com.docker.") || def.labels[k] == v && v != "" {
			continue
		}
		s.Labels[k] = esc(v)
	}
	if len(s.Labels) == 0 {
		s.Labels = nil
	}
	r.ports(&s, cfg, hc, def)
	r.mounts(&s, c, def)
	r.networks(&s, c)
	s.HealthCheck = healthcheck(cfg.Healthcheck, def.health)
	switch p := hc.RestartPolicy; p.Name {
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		s.Restart = string(p.Name)
	case container.RestartPolicyOnFailure:
		s.Restart = "on-failure"
		if p.MaximumRetryCount > 0 {
			s.Restart += ":" + strconv.Itoa(p.MaximumRetryCount)
		}
	}
	s.CapAdd, s.CapDrop = hc.CapAdd, hc.CapDrop
	s.Privileged, s.ReadOnly, s.Init = hc.Privileged, hc.ReadonlyRootfs, hc.Init
	if cfg.StopSignal != "" && cfg.StopSignal != def.stopSignal {
		s.StopSignal = cfg.StopSignal
	}
	if len(s.Environment) == 0 {
		s.Environment = nil
	}
	return s
}

type imageDefaults struct {
	env, cmd, entrypoint []string
	labels               map[string]string
	exposed, volumes     map[string]struct{}
	user, workdir        string
	stopSignal           string
	health               *container.HealthConfig
}

func (r *rebuild) ports(s *types.ServiceConfig, cfg *container.Config, hc *container.HostConfig, def imageDefaults) {
	type key struct {
		target            uint32
		published, ip, pr string
	}
	seen := map[key]bool{}
	for port, bindings := range hc.PortBindings {
		target, proto := uint32(port.Int()), port.Proto()
		for _, b := range bindings {
			ip := b.HostIP
			if ip == "0.0.0.0" || ip == "::" {
				ip = "" // docker binds both families for one compose port
			}
			k := key{target, b.HostPort, ip, proto}
			if seen[k] {
				continue
			}
			seen[k] = true
			s.Ports = append(s.Ports, types.ServicePortConfig{Mode: "ingress", HostIP: ip, Target: target,
				Published: b.HostPort, Protocol: proto})
		}
	}
	sort.Slice(s.Ports, func(i, j int) bool {
		a, b := s.Ports[i], s.Ports[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		return a.Published+a.Protocol+a.HostIP < b.Published+b.Protocol+b.HostIP
	})
	for port := range cfg.ExposedPorts {
		if _, ok := def.exposed[string(port)]; ok {
			continue
		}
		if _, ok := hc.PortBindings[port]; ok {
			continue
		}
		e := port.Port()
		if port.Proto() != "tcp" {
			e += "/" + port.Proto()
		}
		s.Expose = append(s.Expose, e)
	}
	sort.Strings(s.Expose)
}

var anonymousVolume = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (r *rebuild) mounts(s *types.ServiceConfig, c container.InspectResponse, def imageDefaults) {
	for target, opts := range c.HostConfig.Tmpfs {
		if opts != "" {
			target += ":" + opts
		}
		s.Tmpfs = append(s.Tmpfs, target)
	}
	sort.Strings(s.Tmpfs)
	for _, m := range c.Mounts {
		v := types.ServiceVolumeConfig{Type: string(m.Type), Target: m.Destination, ReadOnly: !m.RW}
		switch m.Type {
		case mount.TypeVolume:
			if anonymousVolume.MatchString(m.Name) {
				if _, ok := def.volumes[m.Destination]; ok {
					continue // the image's own VOLUME: compose need not say it
				}
				r.warn(s.Name, "volumes", "anonymous volume at %s: kept anonymous, its data is not carried over", m.Destination)
			} else {
				key, ok := strings.CutPrefix(m.Name, r.p.Name+"_")
				if !ok {
					key = m.Name
					r.p.Volumes[key] = types.VolumeConfig{Name: m.Name, External: true}
				} else if _, seen := r.p.Volumes[key]; !seen {
					r.p.Volumes[key] = types.VolumeConfig{}
				}
				v.Source = key
			}
		case mount.TypeBind:
			v.Source = m.Source
			if strings.HasPrefix(m.Destination, "/run/secrets/") {
				r.warn(s.Name, "secrets", "%s is a secret mounted from the host file %s: kept as a bind mount; declare it as a secret to convert it to a Kubernetes Secret", m.Destination, m.Source)
			}
		case mount.TypeTmpfs:
			if _, ok := c.HostConfig.Tmpfs[m.Destination]; ok {
				continue
			}
		default:
			r.warn(s.Name, "volumes", "%s mount at %s cannot be rebuilt", m.Type, m.Destination)
			continue
		}
		s.Volumes = append(s.Volumes, v)
	}
	sort.Slice(s.Volumes, func(i, j int) bool { return s.Volumes[i].Target < s.Volumes[j].Target })
}

func (r *rebuild) networks(s *types.ServiceConfig, c container.InspectResponse) {
	mode := string(c.HostConfig.NetworkMode)
	switch {
	case mode == "host" || mode == "none":
		s.NetworkMode = mode
		return
	case strings.HasPrefix(mode, "container:"):
		id := strings.TrimPrefix(mode, "container:")
		for cid, svc := range r.ids {
			if strings.HasPrefix(cid, id) {
				s.NetworkMode = "service:" + svc
				return
			}
		}
		r.warn(s.Name, "network_mode", "it shares the network of container %s, which is not part of the project: left out", id)
		return
	}
	if c.NetworkSettings == nil {
		return
	}
	names := make([]string, 0, len(c.NetworkSettings.Networks))
	for n := range c.NetworkSettings.Networks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ep := c.NetworkSettings.Networks[n]
		key, ok := strings.CutPrefix(n, r.p.Name+"_")
		if !ok {
			key = n
			r.p.Networks[key] = types.NetworkConfig{Name: n, External: true}
		} else if _, seen := r.p.Networks[key]; !seen {
			r.p.Networks[key] = types.NetworkConfig{}
		}
		var cfg types.ServiceNetworkConfig
		if ep != nil {
			// Docker adds the service name, container name, short ID and
			// hostname itself; only the others were asked for.
			for _, a := range ep.Aliases {
				if a == s.Name || a == strings.TrimPrefix(c.Name, "/") || strings.HasPrefix(c.ID, a) || a == c.Config.Hostname {
					continue
				}
				cfg.Aliases = append(cfg.Aliases, a)
			}
			if ep.IPAMConfig != nil {
				cfg.Ipv4Address, cfg.Ipv6Address = ep.IPAMConfig.IPv4Address, ep.IPAMConfig.IPv6Address
			}
		}
		if s.Networks == nil {
			s.Networks = map[string]*types.ServiceNetworkConfig{}
		}
		if len(cfg.Aliases) == 0 && cfg.Ipv4Address == "" && cfg.Ipv6Address == "" {
			s.Networks[key] = nil
		} else {
			s.Networks[key] = &cfg
		}
	}
}

// healthcheck returns the container's healthcheck unless it is the image's
// own (the engine copies the image's into the container's config).
func healthcheck(h, image *container.HealthConfig) *types.HealthCheckConfig {
	if h == nil || len(h.Test) == 0 {
		return nil
	}
	if image != nil && slices.Equal(h.Test, image.Test) && h.Interval == image.Interval && h.Timeout == image.Timeout &&
		h.StartPeriod == image.StartPeriod && h.StartInterval == image.StartInterval && h.Retries == image.Retries {
		return nil
	}
	if h.Test[0] == "NONE" {
		return &types.HealthCheckConfig{Disable: true}
	}
	hc := &types.HealthCheckConfig{Test: escAll(h.Test)}
	dur := func(d time.Duration) *types.Duration {
		if d == 0 {
			return nil
		}
		v := types.Duration(d)
		return &v
	}
	hc.Interval, hc.Timeout, hc.StartPeriod, hc.StartInterval = dur(h.Interval), dur(h.Timeout), dur(h.StartPeriod), dur(h.StartInterval)
	if h.Retries > 0 {
		n := uint64(h.Retries)
		hc.Retries = &n
	}
	return hc
}

// dependsOn reads the depends_on label: "db:service_healthy:false,cache:service_started:true"
// (service, condition, restart).
func (r *rebuild) dependsOn(svc string, c container.InspectResponse) {
	label := c.Config.Labels[labelDependsOn]
	if label == "" {
		return
	}
	s := r.p.Services[svc]
	for _, dep := range strings.Split(label, ",") {
		parts := strings.Split(dep, ":")
		if parts[0] == "" {
			continue
		}
		if _, ok := r.p.Services[parts[0]]; !ok {
			r.warn(svc, "depends_on", "it depends on %s, which has no container: left out", parts[0])
			continue
		}
		d := types.ServiceDependency{Condition: types.ServiceConditionStarted, Required: true}
		if len(parts) > 1 && parts[1] != "" {
			d.Condition = parts[1]
		}
		if len(parts) > 2 {
			d.Restart, _ = strconv.ParseBool(parts[2])
		}
		if s.DependsOn == nil {
			s.DependsOn = types.DependsOnConfig{}
		}
		s.DependsOn[parts[0]] = d
	}
	r.p.Services[svc] = s
}
