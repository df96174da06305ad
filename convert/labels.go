package convert

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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
		// kompose splits a service's Service by protocol (web-tcp,
		// web-udp) for some service types; each still selects web's pods.
		if v, ok := o.(*corev1.Service); ok && v.Spec.Selector[komposeLabel] != "" {
			sel[LabelName] = labelValue(v.Spec.Selector[komposeLabel])
		}
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
		svc := s.service(svcName)
		odd := map[string]string{} // keys no annotation can have
		for _, k := range slices.Sorted(maps.Keys(svc.Labels)) {
			v := svc.Labels[k]
			at := []string{"labels", k}
			if !s.annotation(svcName, "labels."+k, at, k, v, odd, w.meta.annotations, &w.tmpl.Annotations) {
				continue
			}
			switch {
			case reservedLabel(k):
				s.warnAt(svcName, "labels."+k, at, fmt.Sprintf("%s is one of meshdock's own labels, which Services and workloads select pods by: it stays %q and the compose value is kept as an annotation", k, (*w.meta.labels)[k]))
			case validLabel(k, v):
				*w.meta.labels = merge(*w.meta.labels, map[string]string{k: v})
				w.tmpl.Labels = merge(w.tmpl.Labels, map[string]string{k: v})
			default:
				s.warnAt(svcName, "labels."+k, at, "is not a valid Kubernetes label; it is kept as an annotation only")
			}
		}
		for _, k := range slices.Sorted(maps.Keys(svc.Annotations)) {
			s.annotation(svcName, "annotations."+k, []string{"annotations", k}, k, svc.Annotations[k], odd, &w.tmpl.Annotations)
		}
		if len(odd) > 0 {
			b, _ := json.Marshal(odd)
			*w.meta.annotations = merge(*w.meta.annotations, map[string]string{LabelsAnnotation: string(b)})
			w.tmpl.Annotations = merge(w.tmpl.Annotations, map[string]string{LabelsAnnotation: string(b)})
		}
	}
	return nil
}

// LabelsAnnotation holds, as a JSON object, the compose labels and
// annotations whose keys Kubernetes does not take as annotation keys.
const LabelsAnnotation = "meshdock.io/compose-labels"

// annotation sets k=v on each of dsts when k is a valid annotation key,
// else keeps it in odd, with a warning; it reports whether k was valid.
func (s *state) annotation(service, key string, at []string, k, v string, odd map[string]string, dsts ...*map[string]string) bool {
	if !validAnnotationKey(k) {
		odd[k] = v
		s.warnAt(service, key, at, fmt.Sprintf("is not a valid Kubernetes label or annotation key (%s); it is kept in the %s annotation", keyProblem(k), LabelsAnnotation))
		return false
	}
	for _, d := range dsts {
		*d = merge(*d, map[string]string{k: v})
	}
	return true
}

// keyProblem says in a few words why Kubernetes refuses a key.
func keyProblem(k string) string {
	prefix, name, found := strings.Cut(k, "/")
	if !found {
		prefix, name = "", k
	}
	switch {
	case strings.Contains(name, "/"):
		return "it has more than one '/'"
	case len(name) > validation.LabelValueMaxLength:
		return fmt.Sprintf("its name part is %d characters, over 63", len(name))
	case len(prefix) > validation.DNS1123SubdomainMaxLength:
		return fmt.Sprintf("its prefix is %d characters, over 253", len(prefix))
	case found && len(validation.IsDNS1123Subdomain(strings.ToLower(prefix))) > 0:
		return "its prefix before '/' is not a DNS name"
	}
	return "it may hold only letters, digits, '-', '_' and '.', and must start and end with a letter or digit"
}

// metadataPass drops, from every object and pod template, any label or
// annotation the API server would refuse the object for. The passes write
// none: this is what keeps one that slipped through from costing the user
// the whole object.
func metadataPass(s *state) error {
	for _, name := range unselected(s.objs) {
		s.warn("", "", fmt.Sprintf("Service %s selects no pod of the app: its name leads nowhere", name))
	}
	check := func(what string, labels, annotations map[string]string) {
		for k, v := range labels {
			if !validLabel(k, v) {
				delete(labels, k)
				s.warn("", "", fmt.Sprintf("%s: label %q=%q is not valid in Kubernetes and is left out", what, k, v))
			}
		}
		for k := range annotations {
			if !validAnnotationKey(k) {
				delete(annotations, k)
				s.warn("", "", fmt.Sprintf("%s: annotation %q is not valid in Kubernetes and is left out", what, k))
			}
		}
		// Annotations hold at most 256 KiB together: the largest go first.
		if apivalidation.ValidateAnnotationsSize(annotations) != nil {
			total := 0
			for k, v := range annotations {
				total += len(k) + len(v)
			}
			keys := slices.SortedFunc(maps.Keys(annotations), func(a, b string) int { return len(annotations[b]) + len(b) - len(annotations[a]) - len(a) })
			var dropped []string
			for _, k := range keys {
				if total <= apivalidation.TotalAnnotationSizeLimitB {
					break
				}
				total -= len(k) + len(annotations[k])
				delete(annotations, k)
				dropped = append(dropped, k)
			}
			shown := dropped[:min(len(dropped), 5)]
			s.warn("", "", fmt.Sprintf("%s: %d annotations are left out (%s): together they were over the 256 KiB Kubernetes takes in one object", what, len(dropped), strings.Join(shown, ", ")))
		}
	}
	for _, o := range s.objs {
		m, err := meta.Accessor(o)
		if err != nil {
			continue
		}
		what := o.GetObjectKind().GroupVersionKind().Kind + " " + m.GetName()
		labels, annotations := m.GetLabels(), m.GetAnnotations()
		check(what, labels, annotations)
		m.SetLabels(labels)
		m.SetAnnotations(annotations)
		if t := podTemplate(o); t != nil {
			check(what+" (pod template)", t.Labels, t.Annotations)
		}
	}
	return nil
}

// podTemplate returns the pod template of a workload, or nil.
func podTemplate(o runtime.Object) *corev1.PodTemplateSpec {
	switch v := o.(type) {
	case *appsv1.Deployment:
		return &v.Spec.Template
	case *appsv1.StatefulSet:
		return &v.Spec.Template
	case *appsv1.DaemonSet:
		return &v.Spec.Template
	case *batchv1.Job:
		return &v.Spec.Template
	case *batchv1.CronJob:
		return &v.Spec.JobTemplate.Spec.Template
	}
	return nil
}

// reservedLabel reports the label keys meshdock sets and selects by, which
// a user's label may not change.
func reservedLabel(k string) bool {
	switch k {
	case LabelName, LabelPartOf, LabelManagedBy, LabelService, komposeLabel:
		return true
	}
	return strings.HasPrefix(k, "meshdock.io/")
}

// validLabel reports whether a key and value are a label the API server
// takes.
func validLabel(k, v string) bool {
	return len(validation.IsQualifiedName(k)) == 0 && validLabelValue(v)
}

func validLabelValue(v string) bool { return len(validation.IsValidLabelValue(v)) == 0 }

// validAnnotationKey reports whether the API server takes k as an
// annotation key (checked in lower case, as it checks it).
func validAnnotationKey(k string) bool {
	return len(validation.IsQualifiedName(strings.ToLower(k))) == 0
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
