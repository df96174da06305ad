package convert

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// komposeInput returns the copy of the project that kompose sees: names
// made valid, and everything removed that kompose mishandles or would read
// from disk or the environment; our passes carry those over instead.
func (s *state) komposeInput() (*types.Project, error) {
	in, err := s.p.WithServicesTransform(func(name string, svc types.ServiceConfig) (types.ServiceConfig, error) {
		return svc, nil
	})
	if err != nil {
		return nil, err
	}
	volNames := map[string]string{}
	vols := types.Volumes{}
	for name, v := range in.Volumes {
		k := dnsSubdomain(name)
		volNames[name] = k
		v.Name = k
		vols[k] = v
	}
	services := types.Services{}
	for name, svc := range in.Services {
		k := s.names[name]
		svc.Name = k
		if svc.Image == "" {
			svc.Image = s.imageOf(name)
		}
		svc.Build = nil
		svc.Secrets, svc.Configs = nil, nil
		svc.EnvFiles, svc.LabelFiles = nil, nil
		svc.HealthCheck = nil
		svc.DependsOn = nil
		svc.Profiles = nil
		svc.Links, svc.ExternalLinks = nil, nil
		svc.NetworkMode, svc.Networks = "", nil
		svc.Restart = ""
		svc.ContainerName = ""
		svc.VolumesFrom = nil
		svc.Extends = nil
		if svc.Deploy != nil {
			svc.Deploy.RestartPolicy = nil
		}
		kept := svc.Volumes[:0]
		for i, v := range svc.Volumes {
			switch v.Type {
			case types.VolumeTypeVolume:
				if v.Source == "" && s.underDroppedBind(name, v.Target) {
					s.warn(name, fmt.Sprintf("volumes.%d", i), fmt.Sprintf("anonymous volume at %s is left out: it sits inside a bind mount that is not carried over, and an empty volume would hide what the image has there", v.Target))
					continue
				}
				if v.Source == "" && s.underBind(name, v.Target) {
					s.warn(name, fmt.Sprintf("volumes.%d", i), fmt.Sprintf("anonymous volume at %s starts empty in Kubernetes: Docker fills a new volume with what the image has at that path (node_modules and the like), Kubernetes does not", v.Target))
				}
				if v.Source != "" {
					v.Source = volNames[v.Source]
				}
				kept = append(kept, v)
			case types.VolumeTypeTmpfs:
				// kompose makes a claim of a long-syntax tmpfs; its short
				// form becomes a memory-backed emptyDir.
				t := v.Target
				if v.Tmpfs != nil && v.Tmpfs.Size > 0 {
					t += fmt.Sprintf(":size=%d", int64(v.Tmpfs.Size))
				}
				svc.Tmpfs = append(svc.Tmpfs, t)
			case types.VolumeTypeBind:
				// The volumes pass carries it over, or says why not.
			default:
				s.warn(name, fmt.Sprintf("volumes.%d", i), volumeTypeMessage(v))
			}
		}
		svc.Volumes = kept
		if h := svc.Hostname; h != "" && dnsName(h) != h {
			svc.Hostname = dnsName(strings.Split(h, ".")[0])
			s.warn(name, "hostname", fmt.Sprintf("%q is not a valid pod host name; the pod is named %q", h, svc.Hostname))
		}
		svc.Expose = s.expandExpose(name, svc.Expose)
		if svc.DomainName != "" {
			// kompose makes it the pod's subdomain, which must be a single
			// DNS label and name a headless Service; neither fits.
			svc.DomainName = ""
			s.warn(name, "domainname", "not carried over: a pod's domain is its Service's, <service>.<namespace>.svc.cluster.local")
		}
		svc.Labels = komposeLabels(svc.Labels)
		// kompose refuses group names; they are warned about (podspec.go).
		groups := svc.GroupAdd[:0:0]
		for _, g := range svc.GroupAdd {
			if n, ok := numericGroup(g); ok {
				groups = append(groups, strconv.FormatInt(n, 10))
			}
		}
		svc.GroupAdd = groups
		services[k] = svc
	}
	in.Services = services
	in.DisabledServices = nil
	in.Volumes = vols
	in.Secrets, in.Configs, in.Networks = nil, nil, nil
	in.Extensions = nil
	return in, nil
}

// volumeTypeMessage says why a mount of another type than volume, bind or
// tmpfs is not carried over.
func volumeTypeMessage(v types.ServiceVolumeConfig) string {
	switch v.Type {
	case types.VolumeTypeNamedPipe:
		return fmt.Sprintf("the named pipe %s is not carried over: Windows named pipes of the host are not available to pods", v.Source)
	case types.VolumeTypeCluster:
		return fmt.Sprintf("the cluster volume %s at %s is not carried over: use a PersistentVolumeClaim of the cluster's CSI driver", v.Source, v.Target)
	case "image":
		return fmt.Sprintf("the image %s mounted at %s is not carried over: Kubernetes image volumes need a cluster with the ImageVolume feature", v.Source, v.Target)
	}
	return fmt.Sprintf("a %s mount at %s is not carried over", v.Type, v.Target)
}

// underDroppedBind reports whether target lies inside the target of one of
// the service's bind mounts that will not be carried over.
func (s *state) underDroppedBind(service, target string) bool {
	return s.underBindWhere(service, target, func(v types.ServiceVolumeConfig) bool {
		return !(s.opt.BindMounts == BindMountsHostPath && !isDockerSocket(v.Source) && s.p.HostPathAllowed(service, v))
	})
}

// underBind reports whether target lies inside one of the service's bind
// mounts that is carried over.
func (s *state) underBind(service, target string) bool {
	return s.underBindWhere(service, target, func(v types.ServiceVolumeConfig) bool {
		return (s.opt.BindMounts == BindMountsHostPath && !isDockerSocket(v.Source) && s.p.HostPathAllowed(service, v))
	})
}

func (s *state) underBindWhere(service, target string, match func(types.ServiceVolumeConfig) bool) bool {
	for _, v := range s.service(service).Volumes {
		if v.Type == types.VolumeTypeBind && match(v) && strings.HasPrefix(target, strings.TrimSuffix(v.Target, "/")+"/") {
			return true
		}
	}
	return false
}

// maxExposeRange bounds how many ports one `expose` range may open.
const maxExposeRange = 100

// expandExpose spells out port ranges ("9300-9301"), which kompose turns
// into port 0.
func (s *state) expandExpose(name string, expose []string) []string {
	var out []string
	for _, e := range expose {
		ports, proto, _ := strings.Cut(e, "/")
		lo, hi, isRange := strings.Cut(ports, "-")
		if !isRange {
			out = append(out, e)
			continue
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 1 || b > 65535 || b < a {
			s.warn(name, "expose", fmt.Sprintf("%q is not a port range; left out", e))
			continue
		}
		if b-a >= maxExposeRange {
			s.warn(name, "expose", fmt.Sprintf("range %q has more than %d ports; only the first %d are exposed", e, maxExposeRange, maxExposeRange))
			b = a + maxExposeRange - 1
		}
		for p := a; p <= b; p++ {
			if proto != "" {
				out = append(out, fmt.Sprintf("%d/%s", p, proto))
			} else {
				out = append(out, strconv.Itoa(p))
			}
		}
	}
	return out
}

// komposeLabels keeps the labels kompose understands that cannot make it
// read files; the others become annotations in the labels pass.
func komposeLabels(l types.Labels) types.Labels {
	out := types.Labels{}
	for k, v := range l {
		switch k {
		case "kompose.service.type", "kompose.service.expose", "kompose.service.nodeport.port",
			"kompose.service.external-traffic-policy", "kompose.image-pull-policy",
			"kompose.controller.type", "kompose.cronjob.schedule", "kompose.cronjob.concurrency_policy",
			"kompose.cronjob.backoff_limit", "kompose.service.healthcheck.readiness.disable",
			"kompose.serviceaccount-name", "kompose.hpa.replicas.min", "kompose.hpa.replicas.max",
			"kompose.hpa.cpu", "kompose.hpa.memory":
			out[k] = v
		}
	}
	return out
}

// imageOf returns the image a service runs: its own, or for a service that
// is only built, the name docker compose gives the image it builds.
func (s *state) imageOf(service string) string {
	if img := s.p.Services[service].Image; img != "" {
		return img
	}
	return s.p.Name + "-" + service
}
