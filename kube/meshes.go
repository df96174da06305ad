package kube

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshdock/meshdock"
)

// meshKinds are a kind each mesh's installation defines: the cluster has
// the mesh when it serves that kind.
var meshKinds = map[string]schema.GroupKind{
	"istio":         {Group: "security.istio.io", Kind: "PeerAuthentication"},
	"istio-ambient": {Group: "security.istio.io", Kind: "PeerAuthentication"},
	"linkerd":       {Group: "policy.linkerd.io", Kind: "Server"},
	"consul":        {Group: "consul.hashicorp.com", Kind: "ServiceDefaults"},
	"kuma":          {Group: "kuma.io", Kind: "Mesh"},
}

// HasMesh checks, before a deploy enrols an app in a mesh, that the cluster
// has that mesh: enrolment marks alone would deploy the app off any mesh,
// and the mesh's own objects would be refused.
func (c Cluster) HasMesh(ctx context.Context, mesh string) error {
	gk, ok := meshKinds[mesh]
	if !ok {
		return nil // none
	}
	if c.conn == nil {
		return ErrNoCluster
	}
	_, err := c.conn.mapper.RESTMapping(gk)
	if meta.IsNoMatchError(err) {
		c.conn.mapper.Reset()
		_, err = c.conn.mapper.RESTMapping(gk)
	}
	switch {
	case meta.IsNoMatchError(err):
		return notInstalled(mesh, fmt.Sprintf("it has no %s", gk))
	case err != nil:
		return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "discovering the kinds of the cluster: %v", err)
	}
	// Kinds alone may be left from an earlier install (Istio and Kuma keep
	// their CRDs), and Istio's serve both of its modes: the mesh is there
	// when its control plane is (ambient: ztunnel).
	_, err = c.controlPlane(ctx, mesh)
	if apierrors.IsNotFound(err) {
		cp := controlPlanes[mesh]
		why := fmt.Sprintf("its kinds are served, but no %s %s/%s runs", strings.TrimSuffix(cp.kind, "s"), cp.namespace, cp.name)
		if mesh == "istio-ambient" {
			why = "no DaemonSet " + cp.namespace + "/" + cp.name + ": Istio without its ambient mode, or its CRDs only"
		}
		return notInstalled(mesh, why)
	}
	return err
}

// controlPlane reads the workload of a mesh's control plane.
func (c Cluster) controlPlane(ctx context.Context, mesh string) (*unstructured.Unstructured, error) {
	cp := controlPlanes[mesh]
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: cp.kind}
	obj, err := c.conn.dynamic.Resource(gvr).Namespace(cp.namespace).Get(ctx, cp.name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, meshdock.Wrap(errorCode(err), err, "read the control plane of %s: %v", mesh, serverMessage(err))
	}
	return obj, err
}

// notInstalled says a mesh is missing, and how to install it.
func notInstalled(mesh, why string) error {
	return meshdock.Errorf(meshdock.ENOTFOUND, "%s is not installed in this cluster (%s): install it first (meshdock mesh install %s, or POST /api/v1/meshes/%s/install), or deploy with mesh none", mesh, why, mesh, mesh)
}
