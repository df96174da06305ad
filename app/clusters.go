package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/kube"
)

// MaxKubeconfig bounds a posted kubeconfig, and MaxContexts the contexts
// in it (each is probed when clusters are listed).
const (
	MaxKubeconfig = 1 << 20
	MaxContexts   = 50
)

// kubeconfigFile is the name, in the data directory, of the kubeconfig a
// client posted.
const kubeconfigFile = "kubeconfig"

// ClustersConfig says where the clusters' kubeconfig comes from.
type ClustersConfig struct {
	// DataDir keeps a posted kubeconfig (mode 0600); empty means a posted
	// kubeconfig is kept in memory only.
	DataDir string
	// InContainer rewrites servers on the host's loopback to
	// host.docker.internal, as a container must reach them.
	InContainer bool
	// NoDefault ignores the kubeconfig of this machine ($KUBECONFIG,
	// ~/.kube/config): only a posted one is used.
	NoDefault bool
	Logger    *slog.Logger
}

// Clusters knows the kubeconfig in use: one posted by a client, kept in
// the data directory, or else this machine's (the default rules, as
// kubectl finds it). Its credentials are never shown nor logged.
type Clusters struct {
	cfg ClustersConfig
	log *slog.Logger

	mu     sync.Mutex
	posted *clientcmdapi.Config
	// cache holds a Cluster per context, so that discovery is done once;
	// it is emptied when the kubeconfig changes.
	cache map[string]kube.Cluster
}

// NewClusters returns the clusters of cfg, reading a kubeconfig posted
// earlier from the data directory.
func NewClusters(cfg ClustersConfig) *Clusters {
	c := &Clusters{cfg: cfg, log: cfg.Logger, cache: map[string]kube.Cluster{}}
	if c.log == nil {
		c.log = slog.Default()
	}
	if cfg.DataDir != "" {
		if data, err := os.ReadFile(filepath.Join(cfg.DataDir, kubeconfigFile)); err == nil {
			if raw, err := parseKubeconfig(data); err == nil {
				c.posted = raw
			} else {
				c.log.Warn("the kubeconfig posted earlier cannot be used; it is ignored", "err", meshdock.ErrorMessage(err))
			}
		}
	}
	return c
}

func parseKubeconfig(data []byte) (*clientcmdapi.Config, error) {
	if len(data) > MaxKubeconfig {
		return nil, meshdock.Errorf(meshdock.ETOOLARGE, "the kubeconfig is over %s", meshdock.FormatSize(MaxKubeconfig))
	}
	raw, err := clientcmd.Load(data)
	if err != nil {
		// The parser's words may quote the file (its keys): not repeated.
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "the kubeconfig cannot be read: it is not a kubeconfig in YAML or JSON")
	}
	if len(raw.Contexts) == 0 {
		return nil, meshdock.Errorf(meshdock.EINVALID, "the kubeconfig has no contexts")
	}
	if len(raw.Contexts) > MaxContexts {
		return nil, meshdock.Errorf(meshdock.ETOOLARGE, "the kubeconfig has %d contexts: at most %d are taken (kubectl config view --minify --flatten writes one)", len(raw.Contexts), MaxContexts)
	}
	if err := kube.CheckEmbedded(raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// SetKubeconfig replaces the kubeconfig in use with a posted one, after
// checking it holds its credentials inline, and keeps it in the data
// directory readable by its owner only. It returns its contexts.
func (c *Clusters) SetKubeconfig(data []byte) ([]string, error) {
	raw, err := parseKubeconfig(data)
	if err != nil {
		return nil, err
	}
	if c.cfg.DataDir != "" {
		if err := writePrivate(filepath.Join(c.cfg.DataDir, kubeconfigFile), data); err != nil {
			c.log.Error("cannot keep the posted kubeconfig", "err", err)
			return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "the kubeconfig cannot be kept: the server's log says why")
		}
	}
	c.mu.Lock()
	c.posted, c.cache = raw, map[string]kube.Cluster{}
	c.mu.Unlock()
	names, _, _ := kube.Contexts(data)
	return names, nil
}

// ForgetKubeconfig drops a posted kubeconfig: the machine's is used again.
func (c *Clusters) ForgetKubeconfig() error {
	if c.cfg.DataDir != "" {
		if err := os.Remove(filepath.Join(c.cfg.DataDir, kubeconfigFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "the posted kubeconfig cannot be removed")
		}
	}
	c.mu.Lock()
	c.posted, c.cache = nil, map[string]kube.Cluster{}
	c.mu.Unlock()
	return nil
}

// writePrivate writes a file through a temporary one, so that no reader
// sees half of it, with mode 0600 from the start.
func writePrivate(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kubeconfig-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// raw returns the kubeconfig in use, with servers rewritten for a
// container when the service runs in one.
func (c *Clusters) raw() (*clientcmdapi.Config, error) {
	c.mu.Lock()
	posted := c.posted
	c.mu.Unlock()
	var raw *clientcmdapi.Config
	switch {
	case posted != nil:
		raw = posted.DeepCopy()
	case c.cfg.NoDefault:
		return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "no kubeconfig: post one (the UI fetches the host's), or start meshdock where kubectl works")
	default:
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		var err error
		if raw, err = rules.Load(); err != nil {
			c.log.Warn("cannot read the kubeconfig", "files", rules.GetLoadingPrecedence(), "err", err)
			return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "a kubeconfig file cannot be read: the server's log says why")
		}
		if len(raw.Contexts) == 0 {
			return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, kube.ErrNoCluster, "no kubeconfig: no Kubernetes cluster is configured (kubectl config get-contexts shows none)")
		}
	}
	if c.cfg.InContainer {
		kube.ForContainer(raw)
	}
	return raw, nil
}

// List probes every context: reachable or why not, version, kind.
func (c *Clusters) List(ctx context.Context) ([]kube.ClusterInfo, error) {
	raw, err := c.raw()
	if err != nil {
		return nil, err
	}
	return kube.Probe(ctx, *raw), nil
}

// Cluster returns the cluster of a context, "" meaning the current one.
func (c *Clusters) Cluster(name string) (kube.Cluster, error) {
	raw, err := c.raw()
	if err != nil {
		return kube.Cluster{}, err
	}
	if name == "" {
		name = raw.CurrentContext
	}
	c.mu.Lock()
	cl, ok := c.cache[name]
	c.mu.Unlock()
	if ok {
		return cl, nil
	}
	cfg, err := kube.LoadConfig(*raw, name)
	if err != nil && meshdock.ErrorCode(err) != meshdock.ENOTFOUND {
		// client-go's words name the files the kubeconfig refers to,
		// which are this machine's: they go to the log only.
		c.log.Warn("a kubeconfig context cannot be used", "context", name, "err", err)
		return kube.Cluster{}, meshdock.Wrap(meshdock.EINVALID, err, "kubeconfig context %s cannot be used: a file it names cannot be read, or it is incomplete (the server's log says which)", meshdock.QuoteName(name))
	}
	if err != nil {
		return kube.Cluster{}, err
	}
	if cl, err = kube.NewCluster(cfg); err != nil {
		return kube.Cluster{}, err
	}
	c.mu.Lock()
	c.cache[name] = cl
	c.mu.Unlock()
	return cl, nil
}

// Kind tells the kind of cluster a context reaches (Docker Desktop, kind,
// k3d, minikube, other), from its name and its nodes.
func (c *Clusters) Kind(ctx context.Context, name string) kube.Kind {
	cl, err := c.Cluster(name)
	if err != nil {
		return kube.KindOther
	}
	return cl.Kind(ctx)
}

// Summary says what the kubeconfig in use holds, without contacting any
// cluster: its number of contexts, the current one, and whether it was
// posted. It never says where the machine's kubeconfig is.
func (c *Clusters) Summary() (contexts int, current string, posted bool, err error) {
	c.mu.Lock()
	posted = c.posted != nil
	c.mu.Unlock()
	raw, err := c.raw()
	if err != nil {
		return 0, "", posted, err
	}
	return len(raw.Contexts), raw.CurrentContext, posted, nil
}
