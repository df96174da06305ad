package kube

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
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
		return meshdock.Errorf(meshdock.ENOTFOUND, "%s is not installed in this cluster (it has no %s): install it first, or deploy with mesh none", mesh, gk)
	case err != nil:
		return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "discovering the kinds of the cluster: %v", err)
	}
	return nil
}
