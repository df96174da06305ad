package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshdock/meshdock"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Ref names one object of a cluster.
type Ref struct {
	schema.GroupVersionKind
	Namespace string // empty for cluster-scoped objects
	Name      string
}

// RefOf returns the Ref of an object as it is written (its namespace may
// still be empty where Apply would fill it in).
func RefOf(obj *unstructured.Unstructured) Ref {
	return Ref{GroupVersionKind: obj.GroupVersionKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// String is "Kind namespace/name", or "Kind name" for a cluster-scoped object.
func (r Ref) String() string {
	kind := r.Kind
	if kind == "" {
		kind = "object"
	}
	if r.Namespace == "" {
		return kind + " " + r.Name
	}
	return kind + " " + r.Namespace + "/" + r.Name
}

// Action is what an apply did to one object.
type Action string

// The outcomes of applying one object.
const (
	Created    Action = "created"    // it did not exist
	Configured Action = "configured" // it existed and changed
	Unchanged  Action = "unchanged"  // it existed and the apply changed nothing
	Replaced   Action = "replaced"   // a field that cannot change did: it was deleted and created again
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// DryRun asks the server to validate, default and admit each object
	// without persisting anything.
	DryRun bool
	// Namespace is given to namespaced objects that have none; empty means
	// the namespace of the kubeconfig context.
	Namespace string
	// Force takes over fields another field manager owns. Without it such
	// a conflict fails the object, with an error that names each field and
	// its manager.
	Force bool
}

// ApplyResult is the outcome for one applied object.
type ApplyResult struct {
	Ref    Ref // with the namespace that was used
	Action Action
	// Object is the object as the server returned it (with defaults, status
	// and resourceVersion).
	Object *unstructured.Unstructured
}

// Refs lists the objects of results, as Watch takes them.
func Refs(results []ApplyResult) []Ref {
	refs := make([]Ref, len(results))
	for i, r := range results {
		refs[i] = r.Ref
	}
	return refs
}

// ObjectError is the failure of one object of a set: which one, and the
// server's (or the client's) reason.
type ObjectError struct {
	Ref Ref
	Err error
}

func (e *ObjectError) Error() string { return e.Ref.String() + ": " + e.Err.Error() }
func (e *ObjectError) Unwrap() error { return e.Err }

// applyWorkers bounds how many objects of one kind are applied at once.
const applyWorkers = 8

// Apply applies objs in order with server-side apply, as field manager
// "meshdock"; fields other managers own are taken over only with
// opts.Force. Consecutive objects of the same kind go to the server
// together, since none depends on another of its kind, and kinds go one
// after the other in the order given (namespaces before what lives in them).
// It goes on past a failed object, so one bad object does not hide the
// others' errors, and stops when ctx ends. The results list the objects that
// were applied, in order; the error, if any, is a *meshdock.Error whose
// cause joins one *ObjectError per failed object (errors.As finds them, and
// apierrors.IsInvalid and friends see the server's status through them).
func (c Cluster) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) ([]ApplyResult, error) {
	if c.conn == nil {
		return nil, ErrNoCluster
	}
	if opts.Namespace == "" {
		opts.Namespace = c.conn.cfg.Namespace
	}
	type outcome struct {
		res ApplyResult
		err error
	}
	out := make([]outcome, len(objs))
	for start := 0; start < len(objs); {
		end := start + 1
		for end < len(objs) && objs[end].GroupVersionKind() == objs[start].GroupVersionKind() {
			end++
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, applyWorkers)
		for i := start; i < end; i++ {
			if err := ctx.Err(); err != nil {
				out[i].err = err
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func(i int) {
				defer func() { <-sem; wg.Done() }()
				out[i].res, out[i].err = c.conn.apply(ctx, objs[i], opts)
			}(i)
		}
		wg.Wait()
		start = end
	}
	results := make([]ApplyResult, 0, len(objs))
	var failed []error
	canceled := false
	for _, o := range out {
		switch {
		case o.err == nil:
			results = append(results, o.res)
		case ctx.Err() != nil && errors.Is(o.err, ctx.Err()):
			if !canceled { // one "canceled" says it for all
				canceled = true
				failed = append(failed, o.err)
			}
		default:
			failed = append(failed, o.err)
		}
	}
	if len(failed) == 0 {
		return results, nil
	}
	return results, applyError(failed)
}

func (c *conn) apply(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions) (ApplyResult, error) {
	ref := RefOf(obj)
	fail := func(err error) (ApplyResult, error) { return ApplyResult{}, &ObjectError{Ref: ref, Err: err} }
	if ref.Kind == "" || ref.Version == "" {
		return fail(meshdock.Errorf(meshdock.EINVALID, "object has no apiVersion or kind"))
	}
	if ref.Name == "" {
		return fail(meshdock.Errorf(meshdock.EINVALID, "object has no name"))
	}
	m, err := c.mapping(ref.GroupVersionKind)
	if err != nil {
		return fail(err)
	}
	var ri dynamic.ResourceInterface
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if ref.Namespace == "" {
			ref.Namespace = opts.Namespace
		}
		ri = c.dynamic.Resource(m.Resource).Namespace(ref.Namespace)
	} else {
		ref.Namespace = ""
		ri = c.dynamic.Resource(m.Resource)
	}
	obj = obj.DeepCopy()
	obj.SetNamespace(ref.Namespace)
	// Every object meshdock applies says so: it is how a later deploy,
	// prune or delete tells meshdock's objects from others'.
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = FieldManager
	obj.SetLabels(labels)
	// The server refuses an apply configuration that carries managed fields,
	// which objects read back from a cluster do.
	obj.SetManagedFields(nil)

	// Reading first is how we tell created from configured from unchanged:
	// the apply answer alone does not say whether the object existed.
	before, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		before, err = nil, nil
	}
	if err != nil {
		return fail(err)
	}
	if before != nil && !opts.Force {
		if _, applied := appliedEntry(before); !applied && before.GetLabels()[LabelManagedBy] != FieldManager {
			// Applying would adopt it, and the next prune or delete would
			// remove what another tool or person made.
			return fail(meshdock.Errorf(meshdock.ECONFLICT, "it exists and meshdock did not make it: its fields are owned by %s; deploy into another namespace, or with --force-conflicts to take it over",
				strings.Join(managers(before), ", ")))
		}
	}
	ao := metav1.ApplyOptions{FieldManager: FieldManager, Force: opts.Force}
	if opts.DryRun {
		ao.DryRun = []string{metav1.DryRunAll}
	}
	after, err := ri.Apply(ctx, ref.Name, obj, ao)
	if err != nil && before != nil && immutable(err) && ref.Kind != "PersistentVolumeClaim" {
		// A field the server never lets change (a Service that becomes
		// headless, a Job's template, a selector) did: the object is
		// replaced, as kubectl apply --force does. A claim never is: its
		// data would go with it.
		if opts.DryRun {
			return ApplyResult{Ref: ref, Action: Replaced, Object: before}, nil
		}
		if after, err = c.replace(ctx, ri, ref, before, obj, ao); err == nil {
			return ApplyResult{Ref: ref, Action: Replaced, Object: after}, nil
		}
	}
	if err != nil {
		if c := conflicts(err); c != "" {
			return fail(meshdock.Wrap(meshdock.ECONFLICT, err, "%s; deploy with --force-conflicts to take them over", c))
		}
		return fail(err)
	}
	return ApplyResult{Ref: ref, Action: action(obj, before, after, opts.DryRun), Object: after}, nil
}

// action compares the object before and after the apply. A persisted change
// always gets a new resourceVersion; a dry run never does, so there the
// objects themselves are compared.
func action(applied, before, after *unstructured.Unstructured, dryRun bool) Action {
	switch {
	case before == nil:
		return Created
	case !dryRun && before.GetResourceVersion() != after.GetResourceVersion():
		// Another writer (a controller setting status, a volume binder)
		// may have changed the object between the read and the apply:
		// meshdock's own entry of the managed fields says whether the
		// apply did. The server stamps it, to the second, only when the
		// applied fields change.
		if b, ok := appliedEntry(before); ok {
			// To the second: within it, what was applied must also have
			// been there already.
			if a, ok := appliedEntry(after); ok && a.Time.Equal(b.Time) && equality.Semantic.DeepEqual(a.FieldsV1, b.FieldsV1) &&
				holds(before.Object, applied.Object) {
				return Unchanged
			}
		}
		return Configured
	case dryRun && !equality.Semantic.DeepEqual(before.Object, after.Object):
		return Configured
	default:
		return Unchanged
	}
}

// holds reports whether every field of want has that value in have.
func holds(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if k == "managedFields" || k == "resourceVersion" {
				continue
			}
			if !holds(h[k], v) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !holds(h[i], w[i]) {
				return false
			}
		}
		return true
	}
	return fmt.Sprint(have) == fmt.Sprint(want)
}

// managers lists who owns an object's fields.
func managers(o *unstructured.Unstructured) []string {
	var out []string
	for _, e := range o.GetManagedFields() {
		if e.Manager != "" && !slices.Contains(out, e.Manager) {
			out = append(out, e.Manager)
		}
	}
	if len(out) == 0 {
		out = []string{"no field manager"}
	}
	return out
}

// appliedEntry returns the managed-fields entry of meshdock's applies.
func appliedEntry(o *unstructured.Unstructured) (metav1.ManagedFieldsEntry, bool) {
	for _, e := range o.GetManagedFields() {
		if e.Manager == FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
			return e, true
		}
	}
	return metav1.ManagedFieldsEntry{}, false
}

// immutable reports the server's refusal to change a field that is fixed
// once the object exists.
func immutable(err error) bool {
	if !apierrors.IsInvalid(err) {
		return false
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return false
	}
	causes := status.Status().Details.Causes
	for _, c := range causes {
		if !strings.Contains(c.Message, "field is immutable") && !strings.Contains(c.Message, "may not change once set") &&
			!strings.Contains(c.Message, "updates to statefulset spec for fields other than") {
			return false
		}
	}
	return len(causes) > 0
}

// replace deletes an object, waits (at most 30 s) until it is gone, and
// applies it again.
func (c *conn) replace(ctx context.Context, ri dynamic.ResourceInterface, ref Ref, before, obj *unstructured.Unstructured, ao metav1.ApplyOptions) (*unstructured.Unstructured, error) {
	policy := metav1.DeletePropagationBackground
	uid := before.GetUID()
	err := ri.Delete(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && cur.GetUID() != uid) {
			break
		}
		if time.Now().After(deadline) {
			return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "%s must be replaced and was not gone 30s after its deletion", ref)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return ri.Apply(ctx, ref.Name, obj, ao)
}

// conflicts describes the fields an apply would take from other managers,
// as the server lists them: "field .spec.replicas is owned by kubectl".
func conflicts(err error) string {
	var status apierrors.APIStatus
	if !apierrors.IsConflict(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return ""
	}
	var out []string
	for _, c := range status.Status().Details.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		// The server words it `conflict with "kubectl" using apps/v1`.
		manager := c.Message
		if _, rest, ok := strings.Cut(c.Message, `conflict with "`); ok {
			manager, _, _ = strings.Cut(rest, `"`)
		}
		out = append(out, fmt.Sprintf("field %s is owned by %s", c.Field, manager))
	}
	return strings.Join(out, ", ")
}

// applyError turns the failures of one Apply into a domain error. Its code is
// the first failure's; its message, safe to show, lists every object with
// the server's own words, which are about the user's objects.
func applyError(failed []error) error {
	msgs := make([]string, len(failed))
	for i, err := range failed {
		msgs[i] = err.Error()
	}
	return meshdock.Wrap(errorCode(failed[0]), errors.Join(failed...), "apply: %s", strings.Join(msgs, "; "))
}

// errorCode classifies a failure: our own checks carry their code, the
// server's statuses map by reason, and anything else failed on the way to
// the server.
func errorCode(err error) string {
	var de *meshdock.Error
	if errors.As(err, &de) {
		return de.Code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return meshdock.ECANCELED
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), isSchemaMismatch(err):
		return meshdock.EINVALID
	case apierrors.IsNotFound(err):
		return meshdock.ENOTFOUND
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		return meshdock.ECONFLICT
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return meshdock.EFORBIDDEN
	}
	// Anything else the server answered (a 500 of its own, a proxy's page)
	// is the cluster failing, an outside world: not meshdock's fault.
	return meshdock.EUNAVAILABLE
}

// isSchemaMismatch reports the server's answer to an apply configuration that
// does not fit the kind's schema (an unknown or mistyped field): the object's
// fault, though the server sends it as a 500 without a reason.
func isSchemaMismatch(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status) &&
		status.Status().Code == 500 &&
		strings.HasPrefix(status.Status().Message, "failed to create typed patch object")
}
