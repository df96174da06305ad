package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	if mesh == "istio-ambient" {
		// Istio's kinds serve both modes: ambient is there when ztunnel is.
		cp := controlPlanes[mesh]
		_, err := c.conn.dynamic.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: cp.kind}).Namespace(cp.namespace).Get(ctx, cp.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return notInstalled(mesh, "Istio is, but not its ambient mode: no DaemonSet "+cp.namespace+"/"+cp.name)
		case err != nil:
			return meshdock.Wrap(errorCode(err), err, "read the control plane of %s: %v", mesh, serverMessage(err))
		}
	}
	return nil
}

// notInstalled says a mesh is missing, and how to install it.
func notInstalled(mesh, why string) error {
	return meshdock.Errorf(meshdock.ENOTFOUND, "%s is not installed in this cluster (%s): install it first (meshdock mesh install %s, or POST /api/v1/meshes/%s/install), or deploy with mesh none", mesh, why, mesh, mesh)
}
