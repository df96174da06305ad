package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock"
)

var selfReviews = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectaccessreviews"}

// applyVerbs are what a server-side apply of an object that may not exist
// yet needs, and what Deploy does around it (read it first, prune, delete).
var applyVerbs = []string{"get", "create", "patch", "delete"}

// checkAccess asks the API server whether the credentials may do what a
// deploy of objs into ns does, before anything is done: a token that may
// not create Deployments is told so at once, and the cluster stays as it
// was. The answer lists every refused verb and resource.
func (c Cluster) checkAccess(ctx context.Context, ns string, objs []*unstructured.Unstructured, createNamespace bool) error {
	type want struct {
		gr         schema.GroupResource
		namespaced bool
	}
	var wants []want
	seen := map[schema.GroupResource]bool{}
	for _, o := range objs {
		m, err := c.conn.mapping(o.GroupVersionKind())
		if err != nil {
			return &ObjectError{Ref: RefOf(o), Err: err}
		}
		gr := m.Resource.GroupResource()
		if !seen[gr] {
			seen[gr] = true
			wants = append(wants, want{gr, m.Scope.Name() == "namespace"})
		}
	}
	type question struct {
		verb      string
		gr        schema.GroupResource
		namespace string
	}
	var questions []question
	if createNamespace {
		questions = append(questions, question{"create", schema.GroupResource{Resource: "namespaces"}, ""},
			question{"patch", schema.GroupResource{Resource: "namespaces"}, ""})
	}
	for _, w := range wants {
		namespace := ""
		if w.namespaced {
			namespace = ns
		}
		for _, verb := range applyVerbs {
			questions = append(questions, question{verb, w.gr, namespace})
		}
	}
	// The inventory is a ConfigMap of the namespace.
	if cm := (schema.GroupResource{Resource: "configmaps"}); !seen[cm] {
		for _, verb := range []string{"get", "create", "patch"} {
			questions = append(questions, question{verb, cm, ns})
		}
	}
	// Asked all at once: each is a round trip.
	answers := make([]error, len(questions))
	allowed := make([]bool, len(questions))
	var wg sync.WaitGroup
	sem := make(chan struct{}, applyWorkers)
	for i, q := range questions {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			review := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
				"spec": map[string]any{"resourceAttributes": map[string]any{
					"namespace": q.namespace, "verb": q.verb, "group": q.gr.Group, "resource": q.gr.Resource}},
			}}
			res, err := c.conn.dynamic.Resource(selfReviews).Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				answers[i] = meshdock.Wrap(errorCode(err), err, "cannot ask the API server what these credentials may do: %v", err)
				return
			}
			allowed[i], _, _ = unstructured.NestedBool(res.Object, "status", "allowed")
		})
	}
	wg.Wait()
	var refused []string
	verbs := map[string][]string{}
	for i, q := range questions {
		if answers[i] != nil {
			return answers[i]
		}
		if name := resourceName(q.gr); !allowed[i] {
			if verbs[name] == nil {
				refused = append(refused, name)
			}
			verbs[name] = append(verbs[name], q.verb)
		}
	}
	for i, name := range refused {
		refused[i] = fmt.Sprintf("%s %s", strings.Join(verbs[name], "/"), name)
	}
	if len(refused) == 0 {
		return nil
	}
	sort.Strings(refused)
	return meshdock.Errorf(meshdock.EFORBIDDEN, "the kubeconfig's credentials may not %s in namespace %s: nothing was applied; deploy with credentials that may (a cluster admin's, or a Role that allows these)",
		strings.Join(refused, ", "), ns)
}

func resourceName(gr schema.GroupResource) string {
	if gr.Group == "" {
		return gr.Resource
	}
	return gr.Resource + "." + gr.Group
}
