package convert

import (
	"fmt"
	"path"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// secretsPass carries secrets over with compose's semantics: a Secret per
// compose secret, with its name unchanged as the key, mounted as a file at
// /run/secrets/<name> or at the long syntax's target. kompose mounts the
// short form *at* /run/secrets (the file is the folder's name), puts long
// targets in the wrong place and turns `_` into `-` in paths.
func secretsPass(s *state) error {
	return mountFiles(s, fileKind{
		key: "secrets", defaultDir: "/run/secrets/",
		refs: func(svc types.ServiceConfig) []types.FileReferenceConfig {
			out := make([]types.FileReferenceConfig, len(svc.Secrets))
			for i, r := range svc.Secrets {
				out[i] = types.FileReferenceConfig(r)
			}
			return out
		},
		def: func(name string) (types.FileObjectConfig, bool) {
			d, ok := s.p.Secrets[name]
			return types.FileObjectConfig(d), ok
		},
		object: func(name string, data map[string][]byte) runtime.Object {
			return &corev1.Secret{TypeMeta: metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"},
				ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretTypeOpaque, Data: data}
		},
		volume: func(obj string, items []corev1.KeyToPath) corev1.VolumeSource {
			return corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: obj, Items: items}}
		},
	})
}

// configsPass does for configs what secretsPass does for secrets: a
// ConfigMap each, mounted at /<name> or the target.
func configsPass(s *state) error {
	return mountFiles(s, fileKind{
		key: "configs", defaultDir: "/",
		refs: func(svc types.ServiceConfig) []types.FileReferenceConfig {
			out := make([]types.FileReferenceConfig, len(svc.Configs))
			for i, r := range svc.Configs {
				out[i] = types.FileReferenceConfig(r)
			}
			return out
		},
		def: func(name string) (types.FileObjectConfig, bool) {
			d, ok := s.p.Configs[name]
			return types.FileObjectConfig(d), ok
		},
		object: func(name string, data map[string][]byte) runtime.Object {
			cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: name}}
			for k, v := range data {
				setConfigMapData(cm, k, v)
			}
			return cm
		},
		volume: func(obj string, items []corev1.KeyToPath) corev1.VolumeSource {
			return corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: obj}, Items: items}}
		},
	})
}

// fileKind is what differs between secrets and configs.
type fileKind struct {
	key        string // "secrets" or "configs"
	defaultDir string // where a reference without a target is mounted
	refs       func(types.ServiceConfig) []types.FileReferenceConfig
	def        func(name string) (types.FileObjectConfig, bool)
	object     func(name string, data map[string][]byte) runtime.Object
	volume     func(obj string, items []corev1.KeyToPath) corev1.VolumeSource
}

func mountFiles(s *state, k fileKind) error {
	made := map[string]string{} // compose name -> object name
	for _, name := range s.p.ServiceNames() {
		w := s.pods[name]
		c := w.container()
		if c == nil {
			continue
		}
		for i, ref := range k.refs(s.service(name)) {
			key := fmt.Sprintf("%s.%d", k.key, i)
			def, ok := k.def(ref.Source)
			if !ok {
				continue // compose-go has already refused undefined references
			}
			obj, ok := made[ref.Source]
			if !ok {
				var err error
				if obj, err = s.fileObject(k, ref.Source, def); err != nil {
					return err
				}
				made[ref.Source] = obj
			}
			if obj == "" {
				continue
			}
			target := ref.Target
			if target == "" {
				target = ref.Source
			}
			if !path.IsAbs(target) {
				target = k.defaultDir + target
			}
			dataKey := dataKeyOf(ref.Source)
			item := corev1.KeyToPath{Key: dataKey, Path: dataKey}
			if ref.Mode != nil {
				item.Mode = ptr.To(int32(*ref.Mode))
			}
			if ref.UID != "" || ref.GID != "" {
				s.warn(name, key, "uid and gid of a mounted file are not carried over: Kubernetes sets file ownership with the pod's fsGroup")
			}
			vol := dnsName(strings.TrimSuffix(k.key, "s") + "-" + ref.Source)
			if !hasVolume(w.spec, vol) {
				w.spec.Volumes = append(w.spec.Volumes, corev1.Volume{Name: vol, VolumeSource: k.volume(obj, []corev1.KeyToPath{item})})
			}
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: target, SubPath: dataKey, ReadOnly: true})
		}
	}
	return nil
}

// fileObject makes the Secret or ConfigMap of a compose secret or config
// and returns its name; "" when there is nothing to mount.
func (s *state) fileObject(k fileKind, name string, def types.FileObjectConfig) (string, error) {
	obj := dnsSubdomain(name)
	topKey := k.key + "." + name
	var content []byte
	switch {
	case bool(def.External):
		ext := def.Name
		if ext == "" {
			ext = name
		}
		s.warn("", topKey, fmt.Sprintf("external: the cluster must already hold a %s named %q with the key %q", strings.TrimSuffix(k.key, "s"), dnsSubdomain(ext), dataKeyOf(name)))
		return dnsSubdomain(ext), nil
	case def.File != "":
		b, ok := s.p.Content(def.File)
		if !ok {
			s.warn("", topKey, fmt.Sprintf("file %s is not part of the project; nothing is mounted", def.File))
			return "", nil
		}
		content = b
	case def.Environment != "":
		v, ok := s.p.Environment[def.Environment]
		if !ok {
			s.warn("", topKey, fmt.Sprintf("variable %s is not set; the file is empty", def.Environment))
		}
		content = []byte(v)
	default:
		content = []byte(def.Content)
	}
	s.add(k.object(obj, map[string][]byte{dataKeyOf(name): content}))
	return obj, nil
}

// dataKeyOf returns the key a compose name is stored under: the name itself
// where it is a valid key, as compose keeps it.
func dataKeyOf(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	return b.String()
}

func hasVolume(spec *corev1.PodSpec, name string) bool {
	for _, v := range spec.Volumes {
		if v.Name == name {
			return true
		}
	}
	return false
}

// setConfigMapData stores text as data and anything else as binaryData.
func setConfigMapData(cm *corev1.ConfigMap, key string, v []byte) {
	if isText(v) {
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[key] = string(v)
		return
	}
	if cm.BinaryData == nil {
		cm.BinaryData = map[string][]byte{}
	}
	cm.BinaryData[key] = v
}

func isText(b []byte) bool {
	for _, c := range string(b) {
		if c == 0xFFFD || (c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
			return false
		}
	}
	return true
}
