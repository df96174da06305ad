package kube

import (
	"github.com/meshdock/meshdock"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the field manager of every server-side apply meshdock
// makes: the fields it sets are owned by this name.
const FieldManager = "meshdock"

// LabelManagedBy, set to FieldManager, marks every object meshdock applies.
const LabelManagedBy = "app.kubernetes.io/managed-by"

// ErrNoCluster is returned by every call on a Cluster that was never
// configured: meshdock runs without a cluster, and says so when asked for one.
var ErrNoCluster = &meshdock.Error{Code: meshdock.EUNAVAILABLE, Message: "no Kubernetes cluster is configured"}

// Cluster is a connection to one API server. The zero Cluster is valid and
// unconfigured: each of its methods returns ErrNoCluster. A Cluster is cheap
// to copy and safe for concurrent use.
type Cluster struct {
	conn *conn
}

type conn struct {
	cfg     Config
	dynamic dynamic.Interface
	// The mapper discovers resource types on first use, not at creation, so
	// making a Cluster needs no round trip and a new CRD is found after a
	// Reset.
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// NewCluster builds the clients for cfg. It does no I/O: an unreachable
// server shows up in the first call.
func NewCluster(cfg Config) (Cluster, error) {
	if cfg.rest == nil {
		return Cluster{}, ErrNoCluster
	}
	rc := cfg.REST()
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return Cluster{}, meshdock.Wrap(meshdock.EINVALID, err, "kubernetes client for %s: %v", cfg, err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return Cluster{}, meshdock.Wrap(meshdock.EINVALID, err, "kubernetes client for %s: %v", cfg, err)
	}
	return Cluster{conn: &conn{
		cfg:     cfg,
		dynamic: dyn,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco)),
	}}, nil
}

// Config returns the configuration the Cluster was built from.
func (c Cluster) Config() (Config, error) {
	if c.conn == nil {
		return Config{}, ErrNoCluster
	}
	return c.conn.cfg, nil
}

// Dynamic returns the dynamic client, for operations this package does not
// offer yet.
func (c Cluster) Dynamic() (dynamic.Interface, error) {
	if c.conn == nil {
		return nil, ErrNoCluster
	}
	return c.conn.dynamic, nil
}

// Mapper returns the REST mapper that turns kinds into resources.
func (c Cluster) Mapper() (meta.ResettableRESTMapper, error) {
	if c.conn == nil {
		return nil, ErrNoCluster
	}
	return c.conn.mapper, nil
}

// mapping finds the resource of a kind. A kind the cached discovery does not
// know may have been added since (a CRD applied a moment ago): discovery is
// refreshed once before giving up.
func (c *conn) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if meta.IsNoMatchError(err) {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "the cluster has no kind %s", gvk.GroupKind())
	}
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "discovering kind %s: %v", gvk, err)
	}
	return m, nil
}
