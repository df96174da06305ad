package convert

import (
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Standard labels (app.kubernetes.io), which meshes, dashboards and kubectl
// understand, in place of kompose's io.kompose.service.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelService names the compose service an object was made from.
	LabelService = "meshdock.io/service"
	komposeLabel = "io.kompose.service"
)

// labelsPass sets the standard labels on every object and makes selectors
// select by name and app, so two apps in one namespace never select each
// other's pods. Compose labels are carried over as labels where they are
// valid label syntax and as annotations always. It also sets the namespace.
func labelsPass(s *state) error {
	byName := map[string]string{}
	for svc, k := range s.names {
		byName[k] = svc
	}
	app := labelValue(dnsName(s.p.Name))
	for _, o := range s.objs {
		m, err := meta.Accessor(o)
		if err != nil {
			continue
		}
		name := m.GetLabels()[komposeLabel]
		if name == "" {
			name = m.GetName()
		}
		name = labelValue(name)
		std := map[string]string{LabelName: name, LabelPartOf: app, LabelManagedBy: "meshdock"}
		if svc, ok := byName[name]; ok {
			std[LabelService] = dnsName(svc)
		}
		m.SetLabels(merge(without(m.GetLabels(), komposeLabel), std))
		if s.opt.Namespace != "" {
			if _, ok := o.(*corev1.Namespace); !ok {
				m.SetNamespace(s.opt.Namespace)
			}
		}
		sel := map[string]string{LabelName: name, LabelPartOf: app}
		switch v := o.(type) {
		case *corev1.Service:
			if v.Spec.Selector != nil {
				v.Spec.Selector = sel
			}
		case *appsv1.Deployment:
			v.Spec.Selector = &metav1.LabelSelector{MatchLabels: sel}
			v.Spec.Template.Labels = merge(without(v.Spec.Template.Labels, komposeLabel), std)
			fixSpreadSelectors(&v.Spec.Template.Spec, sel)
		case *appsv1.DaemonSet:
			v.Spec.Selector = &metav1.LabelSelector{MatchLabels: sel}
			v.Spec.Template.Labels = merge(without(v.Spec.Template.Labels, komposeLabel), std)
		case *appsv1.StatefulSet:
			v.Spec.Selector = &metav1.LabelSelector{MatchLabels: sel}
			v.Spec.Template.Labels = merge(without(v.Spec.Template.Labels, komposeLabel), std)
		case *batchv1.Job:
			v.Spec.Selector = nil
			v.Spec.Template.Labels = merge(without(v.Spec.Template.Labels, komposeLabel), std)
		}
	}
	for _, svcName := range s.p.ServiceNames() {
		w := s.pods[svcName]
		if w == nil {
			continue
		}
		labels := s.service(svcName).Labels
		keys := slices.Sorted(maps.Keys(labels))
		for _, k := range keys {
			v := labels[k]
			*w.meta.annotations = merge(*w.meta.annotations, map[string]string{k: v})
			w.tmpl.Annotations = merge(w.tmpl.Annotations, map[string]string{k: v})
			if len(validation.IsQualifiedName(k)) == 0 && len(validation.IsValidLabelValue(v)) == 0 {
				*w.meta.labels = merge(*w.meta.labels, map[string]string{k: v})
				w.tmpl.Labels = merge(w.tmpl.Labels, map[string]string{k: v})
			} else {
				s.warn(svcName, "labels."+k, "is not a valid Kubernetes label; it is kept as an annotation only")
			}
		}
	}
	return nil
}

// fixSpreadSelectors points kompose's topology spread constraints, which
// select by io.kompose.service, at the labels the pods now have.
func fixSpreadSelectors(spec *corev1.PodSpec, sel map[string]string) {
	for i := range spec.TopologySpreadConstraints {
		ls := spec.TopologySpreadConstraints[i].LabelSelector
		if ls != nil && ls.MatchLabels[komposeLabel] != "" {
			ls.MatchLabels = merge(nil, sel)
		}
	}
}

// labelValue shortens an object name to a valid label value (63
// characters), keeping it unique with a hash of the whole.
func labelValue(name string) string {
	if len(name) <= 63 {
		return name
	}
	return strings.TrimRight(name[:54], "-._") + "-" + shortHash(name)
}

func merge(a, b map[string]string) map[string]string {
	if a == nil {
		a = map[string]string{}
	}
	for k, v := range b {
		a[k] = v
	}
	return a
}

func without(m map[string]string, key string) map[string]string {
	delete(m, key)
	return m
}
