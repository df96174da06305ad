package convert

import (
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	units "github.com/docker/go-units"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// maxConfigMapSize is what the API server accepts in one ConfigMap.
const maxConfigMapSize = 1 << 20

// volumesPass fixes named volumes and handles bind mounts.
//
// kompose makes a ReadOnlyMany claim for a volume that one service mounts
// read-write and another read-only, which local provisioners refuse; a
// compose volume is read-write storage, so every claim is ReadWriteOnce.
//
// kompose reads bind-mounted host files and folders into ConfigMaps at
// conversion time. A server must never read its own filesystem for a user's
// app, so bind mounts are dropped with a warning unless the user asks for
// hostPath volumes or for ConfigMaps made from files of the project itself.
func volumesPass(s *state) error {
	users := map[string][]string{}
	for _, name := range s.p.ServiceNames() {
		seen := map[string]bool{}
		for _, v := range s.service(name).Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source != "" && !seen[v.Source] {
				seen[v.Source] = true
				users[v.Source] = append(users[v.Source], name)
			}
		}
		if w := s.pods[name]; w != nil {
			dedupeVolumes(w.spec)
			subPaths(s.service(name), w.container())
			tmpfsSizes(s.in.Services[s.names[name]].Tmpfs, w)
		}
	}
	external := map[string]string{} // claim name kompose used -> compose volume
	claim := map[string]string{}    // claim name kompose used -> the external volume's own name
	for name, v := range s.p.Volumes {
		if bool(v.External) {
			external[dnsSubdomain(name)] = name
			ext := v.Name
			if ext == "" {
				ext = name
			}
			claim[dnsSubdomain(name)] = dnsSubdomain(ext)
		}
	}
	for _, w := range s.pods {
		for i := range w.spec.Volumes {
			if pvc := w.spec.Volumes[i].PersistentVolumeClaim; pvc != nil && claim[pvc.ClaimName] != "" {
				pvc.ClaimName = claim[pvc.ClaimName]
			}
		}
	}
	s.remove(func(o runtime.Object) bool {
		pvc, ok := o.(*corev1.PersistentVolumeClaim)
		if !ok {
			return false
		}
		if vol, ok := external[pvc.Name]; ok {
			s.warn("", "volumes."+vol, fmt.Sprintf("external volume: the cluster must already hold a PersistentVolumeClaim named %q", claim[pvc.Name]))
			return true
		}
		pvc.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
		return false
	})
	vols := slices.Sorted(maps.Keys(users))
	for _, v := range vols {
		if len(users[v]) > 1 && !bool(s.p.Volumes[v].External) {
			s.warn("", "volumes."+v, fmt.Sprintf("shared by %s: a ReadWriteOnce claim is usable by pods on one node only (fine on a one-node local cluster)", strings.Join(users[v], ", ")))
		}
	}
	for _, name := range s.p.ServiceNames() {
		w := s.pods[name]
		if w.container() == nil {
			continue
		}
		for i, v := range s.service(name).Volumes {
			if v.Type == types.VolumeTypeBind {
				if err := s.bindMount(name, i, v, w); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// dedupeVolumes keeps one pod volume per name: kompose adds one per mount,
// so a volume mounted twice in a service gives a pod the API server
// refuses. The claim is mounted read-only only if every mount is.
func dedupeVolumes(spec *corev1.PodSpec) {
	out := spec.Volumes[:0]
	at := map[string]int{}
	for _, v := range spec.Volumes {
		i, dup := at[v.Name]
		if !dup {
			at[v.Name] = len(out)
			out = append(out, v)
			continue
		}
		if a, b := out[i].PersistentVolumeClaim, v.PersistentVolumeClaim; a != nil && b != nil {
			a.ReadOnly = a.ReadOnly && b.ReadOnly
		}
	}
	spec.Volumes = out
}

// tmpfsSizes carries a tmpfs `size` over as the emptyDir's size limit;
// kompose keeps only the path.
func tmpfsSizes(tmpfs []string, w *workload) {
	c := w.container()
	if c == nil {
		return
	}
	for _, t := range tmpfs {
		target, opts, _ := strings.Cut(t, ":")
		var size int64
		for _, o := range strings.Split(opts, ",") {
			if v, ok := strings.CutPrefix(o, "size="); ok {
				if n, err := units.RAMInBytes(v); err == nil && n > 0 {
					size = n
				}
			}
		}
		if size == 0 {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.MountPath != target {
				continue
			}
			for i := range w.spec.Volumes {
				if v := &w.spec.Volumes[i]; v.Name == m.Name && v.EmptyDir != nil {
					v.EmptyDir.SizeLimit = resource.NewQuantity(size, resource.BinarySI)
				}
			}
		}
	}
}

// subPaths carries `volume.subpath` over as the mount's subPath.
func subPaths(svc types.ServiceConfig, c *corev1.Container) {
	if c == nil {
		return
	}
	for _, v := range svc.Volumes {
		if v.Volume == nil || v.Volume.Subpath == "" {
			continue
		}
		for i := range c.VolumeMounts {
			if c.VolumeMounts[i].MountPath == v.Target {
				c.VolumeMounts[i].SubPath = v.Volume.Subpath
			}
		}
	}
}

func isDockerSocket(p string) bool {
	return p == "/var/run/docker.sock" || p == "/run/docker.sock" || strings.HasSuffix(p, "/docker.sock") || strings.HasSuffix(p, "/docker.sock.raw")
}

func (s *state) bindMount(service string, i int, v types.ServiceVolumeConfig, w *workload) error {
	key := fmt.Sprintf("volumes.%d", i)
	c := w.container()
	shown := s.p.ShownSource(service, v.Target, v.Source)
	if strings.HasPrefix(shown, "~") && s.p.InMemory() {
		s.warn(service, key, fmt.Sprintf("bind mount of %s is left out: the home directory of the converting machine is not the user's", shown))
		return nil
	}
	if isDockerSocket(v.Source) {
		s.warn(service, key, "the Docker socket is not available to pods in Kubernetes; the mount is left out")
		return nil
	}
	switch s.opt.BindMounts {
	case BindMountsHostPath:
		if !(s.opt.BindMounts == BindMountsHostPath && !isDockerSocket(v.Source) && s.p.HostPathAllowed(service, v)) {
			s.warn(service, key, fmt.Sprintf("bind mount of %s is left out: the files were uploaded, so only an absolute host path can be mounted; use --bind-mounts configmap for files of the project", shown))
			return nil
		}
		vol := dnsName(fmt.Sprintf("%s-host-%d", s.names[service], i))
		w.spec.Volumes = append(w.spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: filepath.ToSlash(v.Source)}}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: v.Target, ReadOnly: v.ReadOnly})
		s.warn(service, key, fmt.Sprintf("bind mount of %s became a hostPath volume: the path must exist on the cluster's node", shown))
	case BindMountsConfigMap:
		content, ok := s.p.Content(v.Source)
		if !ok {
			s.warn(service, key, fmt.Sprintf("bind mount of %s is left out: only files of the project can become ConfigMaps, and this is a folder, a missing file or a path outside it", shown))
			return nil
		}
		if len(content) > maxConfigMapSize {
			s.warn(service, key, fmt.Sprintf("bind mount of %s is left out: the file is over the 1 MiB a ConfigMap can hold", shown))
			return nil
		}
		obj := s.uniqueName("ConfigMap", dnsSubdomain(fmt.Sprintf("%s-%s", s.names[service], strings.ReplaceAll(firstOf(s.p.Rel(v.Source)), "/", "-"))), firstOf(s.p.Rel(v.Source)))
		dataKey := dataKeyOf(path.Base(filepath.ToSlash(v.Source)))
		cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: obj}}
		setConfigMapData(cm, dataKey, content)
		s.add(cm)
		vol := dnsName(fmt.Sprintf("%s-file-%d", s.names[service], i))
		w.spec.Volumes = append(w.spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: obj}, DefaultMode: ptr.To(int32(0o644))}}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: v.Target, SubPath: dataKey, ReadOnly: true})
		if !v.ReadOnly {
			s.warn(service, key, fmt.Sprintf("bind mount of %s became a read-only ConfigMap: changes the container makes are not kept", shown))
		}
	default:
		s.warn(service, key, fmt.Sprintf("bind mount of host path %s is left out (choose hostPath volumes or ConfigMaps from project files to carry it over)", shown))
	}
	return nil
}
