package convert

import (
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
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

// bindCarried reports whether a bind mount is carried over in the chosen
// mode.
func (s *state) bindCarried(v types.ServiceVolumeConfig) bool {
	if isDockerSocket(v.Source) {
		return false
	}
	switch s.opt.BindMounts {
	case BindMountsHostPath:
		return !(s.p.inMemory && within(s.p.root, v.Source))
	case BindMountsConfigMap:
		_, ok := s.p.contents[v.Source]
		return ok
	}
	return false
}

// writtenSource returns the source of a service's i-th volume as the
// compose file wrote it, or "".
func (s *state) writtenSource(service string, i int) string {
	for _, f := range s.p.loc.files {
		n := nodeAt(f.root, []string{"services", service, "volumes", strconv.Itoa(i)})
		if n == nil {
			continue
		}
		if n.Kind == yaml.ScalarNode {
			src, _, _ := strings.Cut(n.Value, ":")
			return src
		}
		if kv := child(n, "source"); kv != nil {
			return kv.value.Value
		}
	}
	return ""
}

func isDockerSocket(p string) bool {
	return p == "/var/run/docker.sock" || p == "/run/docker.sock" || strings.HasSuffix(p, "/docker.sock") || strings.HasSuffix(p, "/docker.sock.raw")
}

func (s *state) bindMount(service string, i int, v types.ServiceVolumeConfig, w *workload) error {
	key := fmt.Sprintf("volumes.%d", i)
	c := w.container()
	// Name the source as the user wrote it: compose-go has made it
	// absolute, and expanded `~` with the home directory of whoever runs
	// the conversion, which is not the user's.
	shown := s.writtenSource(service, i)
	if shown == "" {
		if shown = s.p.relPath(v.Source); shown != v.Source {
			shown = "./" + shown
		}
	}
	if strings.HasPrefix(shown, "~") && s.p.inMemory {
		s.warn(service, key, fmt.Sprintf("bind mount of %s is left out: the home directory of the converting machine is not the user's", shown))
		return nil
	}
	if isDockerSocket(v.Source) {
		s.warn(service, key, "the Docker socket is not available to pods in Kubernetes; the mount is left out")
		return nil
	}
	switch s.opt.BindMounts {
	case BindMountsHostPath:
		if s.p.inMemory && within(s.p.root, v.Source) {
			s.warn(service, key, fmt.Sprintf("bind mount of %s: the files were uploaded, so no host path holds them; use --bind-mounts configmap", shown))
			return nil
		}
		vol := dnsName(fmt.Sprintf("%s-host-%d", s.names[service], i))
		w.spec.Volumes = append(w.spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: filepath.ToSlash(v.Source)}}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: v.Target, ReadOnly: v.ReadOnly})
		s.warn(service, key, fmt.Sprintf("bind mount of %s became a hostPath volume: the path must exist on the cluster's node", shown))
	case BindMountsConfigMap:
		content, ok := s.p.contents[v.Source]
		if !ok {
			s.warn(service, key, fmt.Sprintf("bind mount of %s is left out: only files of the project can become ConfigMaps, and this is a folder, a missing file or a path outside it", shown))
			return nil
		}
		if len(content) > maxConfigMapSize {
			s.warn(service, key, fmt.Sprintf("bind mount of %s is left out: the file is over the 1 MiB a ConfigMap can hold", shown))
			return nil
		}
		obj := dnsSubdomain(fmt.Sprintf("%s-%s", s.names[service], strings.ReplaceAll(strings.TrimPrefix(s.p.relPath(v.Source), "./"), "/", "-")))
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
