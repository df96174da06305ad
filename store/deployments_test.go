package store_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/meshdock/meshdock"
)

// A deployment and its builds round-trip through the store and a reopen;
// one namespace of a context holds one deployment; an unknown app is not
// found.
func TestDeploymentsRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meshdock.db")
	db := open(t, path)
	a := sampleApp("shop")
	a.Builds = []meshdock.Build{{Service: "api", Image: "shop-api", Context: "api", Args: map[string]string{"V": "1"}}}
	if err := db.CreateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	d := &meshdock.Deployment{AppID: a.ID, Context: "kind-dev", Namespace: "shop", State: meshdock.Deploying,
		Options: meshdock.DeployOptions{ForceConflicts: true, Timeout: meshdock.Duration(90 * time.Second)}}
	if err := db.CreateDeployment(ctx, d); err != nil {
		t.Fatal(err)
	}
	d.State, d.LastOperation = meshdock.Deployed, "op1"
	d.Objects = []meshdock.ObjectState{{ObjectRef: meshdock.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "api"}, Action: "created"}}
	d.Workloads = []meshdock.WorkloadState{{ObjectRef: d.Objects[0].ObjectRef, Ready: 1, Desired: 1, Done: true}}
	d.URLs = []meshdock.URL{{Service: "api", Port: 8000, URL: "http://localhost:8000", Via: "loadbalancer"}}
	if err := db.UpdateDeployment(ctx, d); err != nil {
		t.Fatal(err)
	}
	dup := &meshdock.Deployment{AppID: a.ID, Context: "kind-dev", Namespace: "shop", State: meshdock.Deploying}
	if err := db.CreateDeployment(ctx, dup); meshdock.ErrorCode(err) != meshdock.ECONFLICT {
		t.Errorf("second deployment into one namespace: %v", err)
	}
	orphan := &meshdock.Deployment{AppID: "nope", Context: "kind-dev", Namespace: "other", State: meshdock.Deploying}
	if err := db.CreateDeployment(ctx, orphan); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Errorf("deployment of an unknown app: %v", err)
	}
	db.Close()
	db = open(t, path)
	got, err := db.Deployment(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	got.CreatedAt, got.UpdatedAt, d.CreatedAt, d.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	d.Kept = []meshdock.ObjectRef{}
	if !reflect.DeepEqual(got, d) {
		t.Errorf("deployment after reopen:\n got %+v\nwant %+v", got, d)
	}
	at, err := db.DeploymentAt(ctx, "kind-dev", "shop")
	if err != nil || at.ID != d.ID {
		t.Errorf("DeploymentAt: %v %v", at, err)
	}
	list, err := db.Deployments(ctx, a.ID)
	if err != nil || len(list) != 1 {
		t.Errorf("Deployments: %v %v", list, err)
	}
	app, err := db.App(ctx, a.ID)
	if err != nil || !reflect.DeepEqual(app.Builds, a.Builds) {
		t.Errorf("builds: %+v %v", app.Builds, err)
	}
	if err := db.DeleteDeployment(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Deployment(ctx, d.ID); meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		t.Errorf("deleted deployment: %v", err)
	}
}
