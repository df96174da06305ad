package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock"
)

// InventoryName is the ConfigMap, in an app's namespace, that lists what
// meshdock applied there; LabelInventory marks it.
const (
	InventoryName  = "meshdock-inventory"
	LabelInventory = "meshdock.io/inventory"
)

// DeployResult is what a deploy did: each object applied, and the objects
// of the previous deploy that left the app and were removed.
type DeployResult struct {
	Applied []ApplyResult
	Pruned  []Ref
}

// DeployOptions tune Deploy.
type DeployOptions struct {
	// Force takes over fields other field managers own.
	Force bool
	// Progress, if set, is called with each object applied.
	Progress func(ApplyResult)
	// Owner names the app (its compose project): a namespace whose
	// inventory names another is refused, so that one app never prunes
	// another's objects.
	Owner string
	// NamespaceLabels and NamespaceAnnotations are the marks the app's
	// namespace must carry (a mesh's enrolment). Those meshdock set before
	// and that are no longer asked for go.
	NamespaceLabels, NamespaceAnnotations map[string]string
	// Mesh is the mesh the app is enrolled in, recorded in the inventory
	// so that an uninstall of that mesh knows the apps it would break.
	Mesh string
}

// inventoryRef is how the inventory writes one object.
type inventoryRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// Deploy applies an app's objects into namespace ns, then removes what the
// previous deploy there applied and objs no longer hold, and records what
// was applied in the namespace's inventory.
//
// What can be known before changing anything is checked first, so that a
// deploy that cannot succeed leaves the cluster as it was: the credentials'
// permissions, and, in a namespace that exists, a dry run of every object
// (schema, admission, conflicts with other field managers). A namespace
// this deploy created is removed again when the apply fails. Nothing is
// pruned when an apply fails: the inventory then keeps both sets, for the
// next deploy.
func (c Cluster) Deploy(ctx context.Context, ns string, objs []*unstructured.Unstructured, opts DeployOptions) (DeployResult, error) {
	if c.conn == nil {
		return DeployResult{}, ErrNoCluster
	}
	cur, exists, err := c.preflight(ctx, ns, objs, opts.Force)
	if err != nil {
		return DeployResult{}, err
	}
	// The namespace is made, or given its marks, first: what lives in it
	// comes after. One made meanwhile by someone else is theirs: the apply
	// refuses it.
	nsApplied, err := c.markNamespace(ctx, ns, cur, exists, opts)
	if err != nil {
		return DeployResult{}, err
	}
	previous, owner, err := c.inventory(ctx, ns)
	if err != nil {
		return DeployResult{}, err
	}
	if owner != "" && opts.Owner != "" && owner != opts.Owner {
		return DeployResult{}, meshdock.Errorf(meshdock.ECONFLICT, "namespace %s holds the app %s, which meshdock deployed there: deploy %s into another namespace, or delete that app first", ns, meshdock.QuoteName(owner), meshdock.QuoteName(opts.Owner))
	}
	if owner == "" {
		owner = opts.Owner
	}
	if opts.Progress == nil {
		opts.Progress = func(ApplyResult) {}
	}
	applied, err := c.Apply(ctx, objs, ApplyOptions{Namespace: ns, Force: opts.Force})
	applied = append(nsApplied, applied...)
	for _, a := range applied {
		opts.Progress(a)
	}
	res := DeployResult{Applied: applied}
	now := map[Ref]bool{}
	for _, a := range applied {
		now[a.Ref] = true
	}
	if err != nil && !exists {
		// Nothing was there before: take it all away again.
		_ = c.conn.dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Delete(context.WithoutCancel(ctx), ns, metav1.DeleteOptions{})
		return DeployResult{}, err
	}
	if err != nil {
		// Keep track of both: what is there now may be either.
		_ = c.writeInventory(context.WithoutCancel(ctx), ns, owner, opts.Mesh, append(previous, Refs(applied)...))
		return res, err
	}
	for i, r := range previous {
		if now[r] || r.Kind == "Namespace" {
			continue
		}
		removed, err := c.remove(ctx, r)
		if err != nil {
			// What is left to prune stays listed, for the next deploy.
			_ = c.writeInventory(context.WithoutCancel(ctx), ns, owner, opts.Mesh, append(Refs(applied), previous[i:]...))
			return res, err
		}
		if removed {
			res.Pruned = append(res.Pruned, r)
		}
	}
	return res, c.writeInventory(ctx, ns, owner, opts.Mesh, Refs(applied))
}

// Preflight checks, changing nothing, what Deploy checks before it applies
// anything: the namespace, the credentials' permissions and, in a namespace
// that exists, a dry run of every object. A caller with expensive work to do
// before the deploy (building images) asks first.
func (c Cluster) Preflight(ctx context.Context, ns string, objs []*unstructured.Unstructured, force bool) error {
	if c.conn == nil {
		return ErrNoCluster
	}
	_, _, err := c.preflight(ctx, ns, objs, force)
	return err
}

// preflight returns the namespace as it read it (nil when it does not
// exist, or when the credentials may not read it) and whether it exists.
func (c Cluster) preflight(ctx context.Context, ns string, objs []*unstructured.Unstructured, force bool) (*unstructured.Unstructured, bool, error) {
	cur, exists, err := c.namespace(ctx, ns)
	if err != nil {
		return nil, false, err
	}
	if err := c.checkAccess(ctx, ns, objs, !exists); err != nil {
		return nil, false, err
	}
	if exists {
		if _, err := c.Apply(ctx, objs, ApplyOptions{Namespace: ns, Force: force, DryRun: true}); err != nil {
			return nil, false, err
		}
	}
	return cur, exists, nil
}

// markNamespace applies the namespace with its labels and annotations:
// creating it when it does not exist, always to one meshdock made (so that
// marks no longer asked for go), and to another only when there are marks
// to set (which the apply then refuses unless asked to take it over).
// cur is the namespace as preflight read it.
func (c Cluster) markNamespace(ctx context.Context, ns string, cur *unstructured.Unstructured, exists bool, opts DeployOptions) ([]ApplyResult, error) {
	switch {
	case exists && cur == nil:
		return nil, nil // credentials for the namespace's contents only
	case exists && cur.GetLabels()[LabelManagedBy] != FieldManager && len(opts.NamespaceLabels)+len(opts.NamespaceAnnotations) == 0:
		return nil, nil
	}
	obj := NamespaceObject(ns, opts.NamespaceLabels, opts.NamespaceAnnotations)
	return c.Apply(ctx, []*unstructured.Unstructured{obj}, ApplyOptions{Force: opts.Force})
}

// NamespaceObject is an app's namespace as Deploy applies it: marked as
// meshdock's, with the mesh's labels and annotations.
func NamespaceObject(ns string, labels, annotations map[string]string) *unstructured.Unstructured {
	l := map[string]any{LabelManagedBy: FieldManager}
	for k, v := range labels {
		l[k] = v
	}
	meta := map[string]any{"name": ns, "labels": l}
	if len(annotations) > 0 {
		ann := map[string]any{}
		for k, v := range annotations {
			ann[k] = v
		}
		meta["annotations"] = ann
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": meta}}
}

// namespace reads the namespace of an app and tells whether it is there;
// one that is being deleted is refused. Credentials that may not read
// namespaces may still deploy into one (the access check says what they
// may do): it then exists, unread.
func (c Cluster) namespace(ctx context.Context, ns string) (*unstructured.Unstructured, bool, error) {
	nsr := c.conn.dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	cur, err := nsr.Get(ctx, ns, metav1.GetOptions{})
	switch {
	case err == nil && cur.GetDeletionTimestamp() != nil:
		return nil, false, meshdock.Errorf(meshdock.ECONFLICT, "namespace %s is being deleted: wait until it is gone, or deploy into another", ns)
	case err == nil:
		return cur, true, nil
	case apierrors.IsNotFound(err):
		return nil, false, nil
	case apierrors.IsForbidden(err):
		return nil, true, nil
	}
	if code := errorCode(err); code != meshdock.EUNAVAILABLE {
		return nil, false, meshdock.Wrap(code, err, "namespace %s: %v", ns, err)
	}
	return nil, false, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "the API server at %s cannot be reached: %s", c.conn.cfg.Server, unreachable(err))
}

// Delete removes what the inventory of namespace ns lists, and the
// inventory; with app set, only when the inventory is that app's. PersistentVolumeClaims (the app's data) stay unless volumes
// is true; those kept are returned.
func (c Cluster) Delete(ctx context.Context, ns, app string, volumes bool) (deleted, kept []Ref, err error) {
	if c.conn == nil {
		return nil, nil, ErrNoCluster
	}
	refs, owner, err := c.inventory(ctx, ns)
	if err != nil {
		return nil, nil, err
	}
	if app != "" && owner != "" && owner != app {
		return nil, nil, meshdock.Errorf(meshdock.ECONFLICT, "namespace %s holds the app %s, not %s: nothing was deleted", ns, meshdock.QuoteName(owner), meshdock.QuoteName(app))
	}
	slices.Reverse(refs) // what depends on others goes first
	for _, r := range refs {
		if r.Kind == "Namespace" || (r.Kind == "PersistentVolumeClaim" && !volumes) {
			if r.Kind == "PersistentVolumeClaim" {
				kept = append(kept, r)
			}
			continue
		}
		removed, err := c.remove(ctx, r)
		if err != nil {
			return deleted, kept, err
		}
		if removed {
			deleted = append(deleted, r)
		}
	}
	if len(kept) > 0 {
		slices.Reverse(kept)
		return deleted, kept, c.writeInventory(ctx, ns, owner, "", kept)
	}
	cm := c.conn.dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns)
	if err := cm.Delete(ctx, InventoryName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return deleted, kept, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "delete the inventory of namespace %s: %v", ns, err)
	}
	return deleted, kept, nil
}

// remove deletes one object meshdock manages, in the background (its
// dependents go after it), and reports whether it did: one already gone,
// or one meshdock does not manage (an inventory is a ConfigMap anyone who
// may write the namespace can edit), is left alone.
func (c Cluster) remove(ctx context.Context, r Ref) (bool, error) {
	m, err := c.conn.mapping(r.GroupVersionKind)
	if err != nil {
		if meta.IsNoMatchError(errors.Unwrap(err)) || meta.IsNoMatchError(err) {
			return false, nil // its kind is gone, and it with it
		}
		return false, &ObjectError{Ref: r, Err: err}
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return false, nil // an app's objects live in its namespace
	}
	ri := c.conn.dynamic.Resource(m.Resource).Namespace(r.Namespace)
	cur, err := ri.Get(ctx, r.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, &ObjectError{Ref: r, Err: err}
	}
	if cur.GetLabels()[LabelManagedBy] != FieldManager {
		return false, nil
	}
	policy := metav1.DeletePropagationBackground
	uid := cur.GetUID()
	err = ri.Delete(ctx, r.Name, metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return false, nil // gone, or replaced by another since
	}
	if err != nil {
		return false, &ObjectError{Ref: r, Err: err}
	}
	return true, nil
}

// AnnotationApp, on an inventory, names the app deployed in its namespace.
const AnnotationApp = "meshdock.io/app"

// AnnotationMesh, on an inventory, names the mesh its app is enrolled in.
const AnnotationMesh = "meshdock.io/mesh"

// EnrolledApp is an app meshdock deployed onto a mesh.
type EnrolledApp struct {
	Namespace, App, Mesh string
}

// AppsOnMesh lists the apps meshdock deployed onto any of the meshes named,
// from the inventories of the cluster, sorted by namespace.
func (c Cluster) AppsOnMesh(ctx context.Context, meshes ...string) ([]EnrolledApp, error) {
	if c.conn == nil {
		return nil, ErrNoCluster
	}
	list, err := c.conn.dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).List(ctx,
		metav1.ListOptions{LabelSelector: LabelInventory + "=true", FieldSelector: "metadata.name=" + InventoryName})
	if err != nil {
		return nil, meshdock.Wrap(errorCode(err), err, "list the apps meshdock deployed: %v", serverMessage(err))
	}
	want := map[string]bool{}
	for _, m := range meshes {
		want[m] = true
	}
	var out []EnrolledApp
	for _, cm := range list.Items {
		ann := cm.GetAnnotations()
		if m := ann[AnnotationMesh]; want[m] {
			out = append(out, EnrolledApp{Namespace: cm.GetNamespace(), App: ann[AnnotationApp], Mesh: m})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out, nil
}

// inventory reads the objects the last deploy into ns applied, and the app
// they are of; none when nothing was deployed there. Only objects of ns
// are taken from it: an inventory is the namespace's own business.
func (c Cluster) inventory(ctx context.Context, ns string) ([]Ref, string, error) {
	cm, err := c.conn.dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns).Get(ctx, InventoryName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", meshdock.Wrap(errorCode(err), err, "read the inventory of namespace %s: %v", ns, err)
	}
	if cm.GetLabels()[LabelInventory] != "true" {
		return nil, "", meshdock.Errorf(meshdock.ECONFLICT, "namespace %s has a ConfigMap %s that meshdock did not write: deploy into another namespace", ns, InventoryName)
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", "objects")
	var list []inventoryRef
	if err := json.Unmarshal([]byte(data), &list); err != nil {
		return nil, "", meshdock.Errorf(meshdock.ECONFLICT, "the inventory of namespace %s cannot be read: %v", ns, err)
	}
	refs := make([]Ref, 0, len(list))
	for _, r := range list {
		gv, err := schema.ParseGroupVersion(r.APIVersion)
		if err != nil || r.Namespace != ns || r.Name == "" {
			continue
		}
		refs = append(refs, Ref{GroupVersionKind: gv.WithKind(r.Kind), Namespace: r.Namespace, Name: r.Name})
	}
	return refs, cm.GetAnnotations()[AnnotationApp], nil
}

// writeInventory records refs as the inventory of ns, each object once,
// with the app they are of.
func (c Cluster) writeInventory(ctx context.Context, ns, owner, mesh string, refs []Ref) error {
	seen := map[Ref]bool{}
	list := []inventoryRef{}
	for _, r := range refs {
		if seen[r] {
			continue
		}
		seen[r] = true
		list = append(list, inventoryRef{APIVersion: r.GroupVersion().String(), Kind: r.Kind, Namespace: r.Namespace, Name: r.Name})
	}
	data, err := json.Marshal(list)
	if err != nil {
		return err
	}
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": InventoryName, "namespace": ns,
			"labels":      map[string]any{LabelInventory: "true", "app.kubernetes.io/managed-by": "meshdock"},
			"annotations": map[string]any{AnnotationApp: owner}},
		"data": map[string]any{"objects": string(data)},
	}}
	if mesh != "" && mesh != "none" {
		_ = unstructured.SetNestedField(cm.Object, mesh, "metadata", "annotations", AnnotationMesh)
	}
	if _, err := c.Apply(ctx, []*unstructured.Unstructured{cm}, ApplyOptions{Namespace: ns, Force: true}); err != nil {
		return fmt.Errorf("record the inventory of namespace %s: %w", ns, err)
	}
	return nil
}

// Status reads, once, where the rollout of each workload that the
// inventory of namespace ns lists stands.
func (c Cluster) Status(ctx context.Context, ns string) ([]WorkloadStatus, error) {
	if c.conn == nil {
		return nil, ErrNoCluster
	}
	refs, _, err := c.inventory(ctx, ns)
	if err != nil {
		return nil, err
	}
	var out []WorkloadStatus
	for _, r := range refs {
		if !rollsOut(r) {
			continue
		}
		obj, err := c.conn.get(ctx, r)
		if apierrors.IsNotFound(err) {
			out = append(out, WorkloadStatus{Ref: r, Message: "not found"})
			continue
		}
		if err != nil {
			return out, meshdock.Wrap(errorCode(err), err, "read %s: %v", r, err)
		}
		st, _ := statusOf(obj)
		ready, desired := counts(obj)
		out = append(out, WorkloadStatus{Ref: r, Ready: ready, Desired: desired, Done: st.Done, Message: st.Message})
	}
	return out, nil
}
