package meshes

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// EnrollWithPolicy enrols objs (the app's objects in namespace ns) in the
// mesh and adds what the policy asks of it: the mesh's policy objects
// (which replace an enrolment object of the same name, such as Consul's
// ServiceDefaults), and the annotations that carry the rest. Warnings say
// what the mesh cannot express, for the user to read before the deploy.
func EnrollWithPolicy(m Mesh, ns string, objs []*unstructured.Unstructured, p *Policy) (*Enrolment, []string, error) {
	e, err := m.Enroll(ns, objs)
	if err != nil || p == nil {
		return e, nil, err
	}
	var targets []PolicyTarget
	byName := map[string]*unstructured.Unstructured{}
	for _, o := range e.Objects {
		service := o.GetLabels()["meshdock.io/service"]
		if !isService(o) || service == "" || o.GetLabels()["meshdock.io/exposes"] != "" {
			continue
		}
		t := PolicyTarget{Service: service, KubeService: o.GetName(), Namespace: ns}
		for _, sp := range servicePorts(o) {
			t.Ports = append(t.Ports, PolicyPort{Name: sp.name, Port: int32(sp.port), AppProtocol: sp.appProtocol})
		}
		targets = append(targets, t)
		byName[o.GetName()] = o
	}
	extra, warnings, err := PolicyObjects(m.Name(), p, targets)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range targets {
		if ann := PolicyAnnotations(m.Name(), p, t); len(ann) > 0 {
			annotate(byName[t.KubeService], ann)
		}
	}
	if ann := PolicyNamespaceAnnotations(m.Name(), p); len(ann) > 0 {
		if e.NamespaceAnnotations == nil {
			e.NamespaceAnnotations = map[string]string{}
		}
		for k, v := range ann {
			e.NamespaceAnnotations[k] = v
		}
	}
	replaced := map[string]bool{}
	key := func(o *unstructured.Unstructured) string {
		return o.GetAPIVersion() + "/" + o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
	}
	for _, o := range extra {
		replaced[key(o)] = true
	}
	kept := e.Objects[:0]
	for _, o := range e.Objects {
		if !replaced[key(o)] {
			kept = append(kept, o)
		}
	}
	e.Objects = append(kept, extra...)
	return e, warnings, nil
}
