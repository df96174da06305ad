package kube

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshdock/meshdock"
)

const appDocs = `apiVersion: v1
kind: ConfigMap
metadata: {name: a, labels: {app.kubernetes.io/managed-by: meshdock}}
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, labels: {app.kubernetes.io/managed-by: meshdock}}
data: {k: v}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, labels: {app.kubernetes.io/managed-by: meshdock}}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app.kubernetes.io/managed-by: meshdock}}
spec: {ports: [{port: 80}], selector: {app: web}}
`

// Against the real API server: a deploy creates the namespace and the
// objects; the same deploy again changes nothing and prunes nothing; an
// object that left the app is pruned; delete removes the app's objects and
// keeps its claims unless asked.
func TestDeployInventoryPruneDelete(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c) + "-app"
	t.Cleanup(func() {
		dyn, _ := c.Dynamic()
		_ = dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	ctx := context.Background()
	res, err := c.Deploy(ctx, ns, objects(t, appDocs), DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(res.Applied); got != "created created created created created" || len(res.Pruned) != 0 {
		t.Fatalf("first deploy: %s, pruned %v", got, res.Pruned)
	}
	res, err = c.Deploy(ctx, ns, objects(t, appDocs), DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(res.Applied); got != "unchanged unchanged unchanged unchanged unchanged" || len(res.Pruned) != 0 {
		t.Fatalf("second deploy: %s, pruned %v", got, res.Pruned)
	}
	without := objects(t, appDocs)
	without = append(without[:1], without[2:]...) // b left the app
	res, err = c.Deploy(ctx, ns, without, DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pruned) != 1 || res.Pruned[0].Name != "b" {
		t.Fatalf("third deploy pruned %v, want ConfigMap b", res.Pruned)
	}
	dyn, _ := c.Dynamic()
	cms := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns)
	if _, err := cms.Get(ctx, "b", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("ConfigMap b after the prune: %v", err)
	}
	deleted, kept, err := c.Delete(ctx, ns, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 2 || len(kept) != 1 || kept[0].Name != "data" {
		t.Fatalf("delete: deleted %v, kept %v", deleted, kept)
	}
	pvcs := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}).Namespace(ns)
	if _, err := pvcs.Get(ctx, "data", metav1.GetOptions{}); err != nil {
		t.Fatalf("the claim was not kept: %v", err)
	}
	deleted, kept, err = c.Delete(ctx, ns, "", true)
	if err != nil || len(deleted) != 1 || len(kept) != 0 {
		t.Fatalf("delete with volumes: deleted %v, kept %v, %v", deleted, kept, err)
	}
	if _, err := cms.Get(ctx, InventoryName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the inventory after the last delete: %v", err)
	}
}

// A ConfigMap of the inventory's name that meshdock did not write is not
// taken for one: nothing is applied or pruned.
func TestDeployRefusesAForeignInventory(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	foreign := objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+InventoryName+"}\ndata: {objects: '[]'}\n")
	if _, err := c.Apply(context.Background(), foreign, ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Deploy(context.Background(), ns, objects(t, appDocs), DeployOptions{})
	if meshdock.ErrorCode(err) != meshdock.ECONFLICT {
		t.Fatalf("deploy over a foreign inventory: %v, want a conflict", err)
	}
}

// An inventory is a ConfigMap that whoever may write the namespace can
// edit: a deploy prunes only what it lists in its own namespace and what
// meshdock manages, and a namespace holding another app is refused.
func TestDeployTrustsNoForgedInventory(t *testing.T) {
	c := testCluster(t)
	ctx := context.Background()
	victim := testNamespace(t, c)
	ns := testNamespace(t, c)
	precious := objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: precious, labels: {app.kubernetes.io/managed-by: meshdock}}\n")
	if _, err := c.Apply(ctx, precious, ApplyOptions{Namespace: victim}); err != nil {
		t.Fatal(err)
	}
	theirs := objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: theirs}\n")[0]
	dyn0, _ := c.Dynamic()
	if _, err := dyn0.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns).
		Apply(ctx, "theirs", theirs, metav1.ApplyOptions{FieldManager: "kubectl"}); err != nil {
		t.Fatal(err)
	}
	forged := fmt.Sprintf(`[{"apiVersion":"v1","kind":"ConfigMap","namespace":%q,"name":"precious"},{"apiVersion":"v1","kind":"ConfigMap","namespace":%q,"name":"theirs"},{"apiVersion":"v1","kind":"Namespace","name":%q}]`, victim, ns, victim)
	if err := c.writeInventory(ctx, ns, "shop", "", nil); err != nil {
		t.Fatal(err)
	}
	dyn, _ := c.Dynamic()
	cms := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"})
	patch := fmt.Sprintf(`{"data":{"objects":%q}}`, forged)
	if _, err := cms.Namespace(ns).Patch(ctx, InventoryName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Deploy(ctx, ns, objects(t, appDocs), DeployOptions{Owner: "shop"})
	if err != nil || len(res.Pruned) != 0 {
		t.Fatalf("deploy over a forged inventory: pruned %v, %v", res.Pruned, err)
	}
	if _, err := cms.Namespace(victim).Get(ctx, "precious", metav1.GetOptions{}); err != nil {
		t.Errorf("an object of another namespace was pruned: %v", err)
	}
	if _, err := cms.Namespace(ns).Get(ctx, "theirs", metav1.GetOptions{}); err != nil {
		t.Errorf("an object meshdock does not manage was pruned: %v", err)
	}
	_, err = c.Deploy(ctx, ns, objects(t, appDocs), DeployOptions{Owner: "other"})
	if meshdock.ErrorCode(err) != meshdock.ECONFLICT || !strings.Contains(meshdock.ErrorMessage(err), `holds the app "shop"`) {
		t.Errorf("another app into the namespace: %v", err)
	}
}

func actions(rs []ApplyResult) string {
	out := ""
	for i, r := range rs {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprint(r.Action)
	}
	return out
}

// A namespace that is being deleted is refused before anything is applied:
// objects applied into it would go with it.
func TestDeployRefusesATerminatingNamespace(t *testing.T) {
	c := testCluster(t)
	ns := testNamespace(t, c)
	ctx := context.Background()
	held := objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, finalizers: [meshdock.io/test]}\n")
	if _, err := c.Apply(ctx, held, ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	dyn, _ := c.Dynamic()
	cms := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns)
	t.Cleanup(func() {
		_, _ = cms.Patch(context.Background(), "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	})
	nss := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	if err := nss.Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Deploy(ctx, ns, objects(t, appDocs), DeployOptions{})
	if meshdock.ErrorCode(err) != meshdock.ECONFLICT || !strings.Contains(meshdock.ErrorMessage(err), "being deleted") {
		t.Fatalf("deploy into a terminating namespace: %v, want a conflict", err)
	}
	if _, err := cms.Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("an object was applied into the terminating namespace: %v", err)
	}
}
