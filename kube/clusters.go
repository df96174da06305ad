package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshdock/meshdock"
)

// Kind is the kind of local cluster a context reaches.
type Kind string

// Kinds of cluster meshdock tells apart.
const (
	KindDockerDesktop Kind = "docker-desktop"
	KindKind          Kind = "kind"
	KindK3d           Kind = "k3d"
	KindMinikube      Kind = "minikube"
	KindOther         Kind = "other"
)

// ClusterInfo is what a context of a kubeconfig leads to.
type ClusterInfo struct {
	Context   string `json:"context"`
	Current   bool   `json:"current"`
	Server    string `json:"server"`
	Reachable bool   `json:"reachable"`
	// Reason says why an unreachable cluster is so.
	Reason string `json:"reason,omitempty"`
	// Version is the API server's version (v1.31.2).
	Version string `json:"version,omitempty"`
	Kind    Kind   `json:"kind"`
}

// ProbeTimeout bounds the questions asked of one API server, and
// probeWorkers how many are asked at once.
const (
	ProbeTimeout = 3 * time.Second
	probeWorkers = 8
)

// Probe resolves every context of a kubeconfig and asks each API server,
// all at once and for at most ProbeTimeout each, for its version and its
// nodes, to tell the kind of cluster.
func Probe(ctx context.Context, raw clientcmdapi.Config) []ClusterInfo {
	names := make([]string, 0, len(raw.Contexts))
	for name := range raw.Contexts {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]ClusterInfo, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, probeWorkers)
	for i, name := range names {
		out[i] = ClusterInfo{Context: name, Current: name == raw.CurrentContext, Kind: kindOfName(name)}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			probeOne(ctx, raw, &out[i])
		})
	}
	wg.Wait()
	return out
}

// ProbeDefault probes the contexts of the kubeconfig found the way kubectl
// finds it ($KUBECONFIG, or ~/.kube/config).
func ProbeDefault(ctx context.Context) ([]ClusterInfo, error) {
	raw, err := clientcmd.NewDefaultClientConfigLoadingRules().Load()
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "kubeconfig: %v", err)
	}
	return Probe(ctx, *raw), nil
}

func probeOne(ctx context.Context, raw clientcmdapi.Config, info *ClusterInfo) {
	cfg, err := resolve(clientcmd.NewNonInteractiveClientConfig(raw, info.Context, &clientcmd.ConfigOverrides{}, nil), info.Context)
	if err != nil {
		info.Reason = safeReason(err, info.Context)
		return
	}
	info.Server = cfg.Server
	rc := cfg.REST()
	rc.Timeout = ProbeTimeout
	disco, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		info.Reason = err.Error()
		return
	}
	v, err := disco.ServerVersion()
	if err != nil {
		info.Reason = unreachable(err)
		return
	}
	info.Reachable, info.Version = true, v.GitVersion
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return
	}
	// Reachable, but the nodes may not be listed: then the name decides.
	if k := kindOfCluster(ctx, dyn); k != KindOther {
		info.Kind = k
	}
}

// safeReason is why a context cannot be used: meshdock's own words, or,
// where client-go's would name the files the context refers to, a
// pointer to kubectl.
func safeReason(err error, context string) string {
	var me *meshdock.Error
	if errors.As(err, &me) && me.Err == nil {
		return me.Message
	}
	return "the context cannot be used: a file it names cannot be read, or it is incomplete (kubectl --context " + context + " version says why)"
}

// unreachable says in a few words why an API server did not answer.
func unreachable(err error) string {
	var ne net.Error
	msg := err.Error()
	switch {
	case errors.As(err, &ne) && ne.Timeout(), strings.Contains(msg, "Client.Timeout"), strings.Contains(msg, "deadline exceeded"):
		return "the API server did not answer in time"
	case strings.Contains(msg, "connection refused"):
		return "nothing listens at the server's address (is the cluster running?)"
	case strings.Contains(msg, "no such host"):
		return "the server's host name does not resolve"
	case strings.Contains(msg, "certificate"), strings.Contains(msg, "x509"), strings.Contains(msg, "tls:"):
		return "the server's TLS certificate is not trusted by this kubeconfig: " + msg
	case strings.Contains(msg, "Unauthorized"):
		return "the API server refused the kubeconfig's credentials"
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		// What the server sent back is its own business, and may be
		// anything when it is no API server at all.
		return fmt.Sprintf("the server answered HTTP %d (%s): is it a Kubernetes API server?", status.Status().Code, status.Status().Reason)
	}
	return "the API server cannot be asked for its version"
}

// kindOfName tells a local cluster by the context names their tools
// write.
func kindOfName(context string) Kind {
	switch {
	case context == "docker-desktop" || context == "docker-for-desktop":
		return KindDockerDesktop
	case strings.HasPrefix(context, "kind-"):
		return KindKind
	case strings.HasPrefix(context, "k3d-"):
		return KindK3d
	case context == "minikube":
		return KindMinikube
	}
	return KindOther
}

// kindOfNodes tells a local cluster by its nodes' names and labels, for a
// context that was renamed.
func kindOfNodes(nodes []map[string]string) Kind {
	for _, l := range nodes {
		switch {
		case l["name"] == "docker-desktop" || l["kubernetes.io/hostname"] == "docker-desktop":
			return KindDockerDesktop
		case l["minikube.k8s.io/name"] != "":
			return KindMinikube
		case strings.HasPrefix(l["name"], "k3d-"):
			return KindK3d
		case strings.HasSuffix(l["name"], "-control-plane") || strings.HasPrefix(l["name"], "kind-"):
			return KindKind
		}
	}
	return KindOther
}

// ForContainer rewrites, in place, the servers of a kubeconfig that name
// the host's loopback (127.0.0.1, localhost, ::1, and k3d's 0.0.0.0) to
// host.docker.internal, as a container must reach them, keeping the TLS
// server name the certificate was issued for: Docker Desktop, kind, k3d
// and minikube all publish their API server on the host's loopback.
func ForContainer(raw *clientcmdapi.Config) {
	for _, c := range raw.Clusters {
		u, err := url.Parse(c.Server)
		if err != nil {
			continue
		}
		host := u.Hostname()
		if host != "localhost" && host != "::1" && host != "0.0.0.0" && !strings.HasPrefix(host, "127.") {
			continue
		}
		if c.TLSServerName == "" && !c.InsecureSkipTLSVerify {
			// k3d writes 0.0.0.0; its certificate names 127.0.0.1.
			c.TLSServerName = strings.Replace(host, "0.0.0.0", "127.0.0.1", 1)
		}
		if p := u.Port(); p != "" {
			u.Host = net.JoinHostPort("host.docker.internal", p)
		} else {
			u.Host = "host.docker.internal"
		}
		c.Server = u.String()
	}
}

// Kind tells the kind of cluster c reaches, from its context's name and,
// when the name does not tell, its nodes.
func (c Cluster) Kind(ctx context.Context) Kind {
	if c.conn == nil {
		return KindOther
	}
	if k := kindOfName(c.conn.cfg.Context); k != KindOther {
		return k
	}
	return kindOfCluster(ctx, c.conn.dynamic)
}

// kindOfCluster tells a local cluster by its nodes (KindOther when they
// cannot be listed within ProbeTimeout).
func kindOfCluster(ctx context.Context, dyn dynamic.Interface) Kind {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	nodes, err := dyn.Resource(nodesGVR).List(ctx, metav1.ListOptions{Limit: 10})
	if err != nil {
		return KindOther
	}
	var labels []map[string]string
	for _, n := range nodes.Items {
		l := map[string]string{"name": n.GetName()}
		for k, v := range n.GetLabels() {
			l[k] = v
		}
		labels = append(labels, l)
	}
	return kindOfNodes(labels)
}
