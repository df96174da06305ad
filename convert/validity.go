package convert

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	autoscalingv2beta2 "k8s.io/api/autoscaling/v2beta2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
)

// validityPass fixes what kompose writes that the API server refuses:
// pod volume names taken from volume names that hold dots or capitals,
// node affinity from swarm constraints whose values are no label values,
// and HorizontalPodAutoscalers in a version Kubernetes no longer serves.
func validityPass(s *state) error {
	for _, name := range s.p.ServiceNames() {
		if w := s.pods[name]; w != nil {
			podVolumeNames(w.spec)
			s.nodeAffinity(name, w.spec)
			s.idRanges(name, w.spec)
		}
	}
	for i, o := range s.objs {
		if h, ok := o.(*autoscalingv2beta2.HorizontalPodAutoscaler); ok {
			v2, err := hpaV2(h)
			if err != nil {
				return err
			}
			s.objs[i] = v2
		}
	}
	return nil
}

// podVolumeNames renames the volumes of a pod whose names are not DNS
// labels (kompose names them after the claim, "vhost.d"), in the mounts of
// every container too.
func podVolumeNames(spec *corev1.PodSpec) {
	renamed := map[string]string{}
	taken := map[string]bool{}
	for _, v := range spec.Volumes {
		taken[v.Name] = true
	}
	for i, v := range spec.Volumes {
		if len(validation.IsDNS1123Label(v.Name)) == 0 {
			continue
		}
		if n, ok := renamed[v.Name]; ok { // mounted twice: dedupeVolumes merges them
			spec.Volumes[i].Name = n
			continue
		}
		n := dnsName(v.Name)
		for taken[n] {
			n = dnsName(n + "-" + shortHash(v.Name))
		}
		taken[n] = true
		renamed[v.Name] = n
		spec.Volumes[i].Name = n
	}
	if len(renamed) == 0 {
		return
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			for j, m := range cs[i].VolumeMounts {
				if n, ok := renamed[m.Name]; ok {
					cs[i].VolumeMounts[j].Name = n
				}
			}
		}
	}
}

// idRanges drops a user or group ID Kubernetes cannot take (0 to
// 2147483647), which kompose copies from `user` as it is.
func (s *state) idRanges(name string, spec *corev1.PodSpec) {
	for i := range spec.Containers {
		s.idRange(name, spec.Containers[i].SecurityContext)
	}
}

// idRange drops the user and group IDs of one security context that
// Kubernetes cannot take.
func (s *state) idRange(name string, sc *corev1.SecurityContext) {
	if sc == nil {
		return
	}
	for _, id := range []**int64{&sc.RunAsUser, &sc.RunAsGroup} {
		if *id != nil && (**id < 0 || **id > math.MaxInt32) {
			s.warn(name, "user", fmt.Sprintf("ID %d is not carried over: Kubernetes takes user and group IDs from 0 to %d", **id, math.MaxInt32))
			*id = nil
		}
	}
}

// nodeAffinity drops the node affinity terms kompose made of swarm
// placement constraints that no node label could match: a key that is no
// label key, or a value that is no label value ("ubuntu 14.04").
func (s *state) nodeAffinity(name string, spec *corev1.PodSpec) {
	a := spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return
	}
	req := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	terms := req.NodeSelectorTerms[:0]
	for _, t := range req.NodeSelectorTerms {
		exprs := t.MatchExpressions[:0]
		for _, e := range t.MatchExpressions {
			bad := len(validation.IsQualifiedName(e.Key)) > 0
			for _, v := range e.Values {
				bad = bad || !validLabelValue(v)
			}
			if bad {
				s.warn(name, "deploy.placement.constraints", fmt.Sprintf("%s %s %s is not carried over: no node label can have that key or value", e.Key, strings.ToLower(string(e.Operator)), strings.Join(e.Values, ", ")))
				continue
			}
			exprs = append(exprs, e)
		}
		t.MatchExpressions = exprs
		if len(t.MatchExpressions) > 0 || len(t.MatchFields) > 0 {
			terms = append(terms, t)
		}
	}
	req.NodeSelectorTerms = terms
	if len(terms) == 0 {
		a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = nil
		if a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution == nil {
			a.NodeAffinity = nil
		}
		if a.NodeAffinity == nil && a.PodAffinity == nil && a.PodAntiAffinity == nil {
			spec.Affinity = nil
		}
	}
}

// hpaV2 rewrites kompose's autoscaling/v2beta2 HorizontalPodAutoscaler,
// which Kubernetes stopped serving in 1.26, as autoscaling/v2: the two
// have the same fields.
func hpaV2(h *autoscalingv2beta2.HorizontalPodAutoscaler) (runtime.Object, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	out := &autoscalingv2.HorizontalPodAutoscaler{}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, err
	}
	out.TypeMeta = metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"}
	return out, nil
}

// unselected lists the Services whose selector matches no pod template of
// the output: a Service that selects nothing makes its name lead nowhere.
func unselected(objs []runtime.Object) []string {
	var out []string
	for _, o := range objs {
		svc, ok := o.(*corev1.Service)
		if !ok || len(svc.Spec.Selector) == 0 {
			continue
		}
		if !slices.ContainsFunc(objs, func(p runtime.Object) bool {
			t := podTemplate(p)
			if t == nil {
				return false
			}
			for k, v := range svc.Spec.Selector {
				if t.Labels[k] != v {
					return false
				}
			}
			return true
		}) {
			out = append(out, svc.Name)
		}
	}
	return out
}
