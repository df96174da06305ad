package kube

import (
	"context"
	"os"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestKindOf(t *testing.T) {
	for name, want := range map[string]Kind{"docker-desktop": KindDockerDesktop, "kind-dev": KindKind, "k3d-shop": KindK3d, "minikube": KindMinikube, "prod": KindOther} {
		if got := kindOfName(name); got != want {
			t.Errorf("context %s: %s, want %s", name, got, want)
		}
	}
	for want, nodes := range map[Kind][]map[string]string{
		KindDockerDesktop: {{"name": "docker-desktop"}},
		KindMinikube:      {{"name": "work", "minikube.k8s.io/name": "work"}},
		KindK3d:           {{"name": "k3d-shop-server-0"}},
		KindKind:          {{"name": "dev-control-plane"}, {"name": "dev-worker"}},
		KindOther:         {{"name": "ip-10-0-0-1"}},
	} {
		if got := kindOfNodes(nodes); got != want {
			t.Errorf("nodes %v: %s, want %s", nodes, got, want)
		}
	}
}

// Servers on the host's loopback are reached from a container through
// host.docker.internal, and the certificate is still checked against the
// name it was issued for.
func TestForContainer(t *testing.T) {
	raw := clientcmdapi.NewConfig()
	for name, server := range map[string]string{"dd": "https://127.0.0.1:6443", "k3d": "https://0.0.0.0:6550", "local": "https://localhost:8443",
		"v6": "https://[::1]:6443", "remote": "https://10.1.2.3:6443", "insecure": "https://127.0.0.1:1"} {
		c := clientcmdapi.NewCluster()
		c.Server = server
		c.InsecureSkipTLSVerify = name == "insecure"
		raw.Clusters[name] = c
	}
	ForContainer(raw)
	want := map[string][2]string{
		"dd":       {"https://host.docker.internal:6443", "127.0.0.1"},
		"local":    {"https://host.docker.internal:8443", "localhost"},
		"v6":       {"https://host.docker.internal:6443", "::1"},
		"remote":   {"https://10.1.2.3:6443", ""},
		"k3d":      {"https://host.docker.internal:6550", "127.0.0.1"},
		"insecure": {"https://host.docker.internal:1", ""},
	}
	for name, w := range want {
		c := raw.Clusters[name]
		if c.Server != w[0] || c.TLSServerName != w[1] {
			t.Errorf("%s: %s (tls-server-name %q), want %s (%q)", name, c.Server, c.TLSServerName, w[0], w[1])
		}
	}
}

// Against the real API server: its context is reachable with its version;
// a context whose server does not listen is not, and says why; a context
// whose cluster entry is missing says that.
func TestProbe(t *testing.T) {
	testCluster(t)
	raw, err := clientcmd.LoadFromFile(os.Getenv("KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	cur := raw.Contexts[raw.CurrentContext]
	down := clientcmdapi.NewCluster()
	down.Server = "https://127.0.0.1:1"
	raw.Clusters["down"] = down
	raw.Contexts["kind-down"] = &clientcmdapi.Context{Cluster: "down", AuthInfo: cur.AuthInfo}
	raw.Contexts["broken"] = &clientcmdapi.Context{Cluster: "missing", AuthInfo: cur.AuthInfo}
	infos := Probe(context.Background(), *raw)
	by := map[string]ClusterInfo{}
	for _, i := range infos {
		by[i.Context] = i
	}
	if i := by[raw.CurrentContext]; !i.Reachable || !i.Current || !strings.HasPrefix(i.Version, "v1.") || i.Kind != KindOther {
		t.Errorf("the test cluster: %+v", i)
	}
	if i := by["kind-down"]; i.Reachable || !strings.Contains(i.Reason, "nothing listens") || i.Kind != KindKind || i.Current {
		t.Errorf("a cluster that is down: %+v", i)
	}
	if i := by["broken"]; i.Reachable || !strings.Contains(i.Reason, "no cluster") {
		t.Errorf("a context without its cluster: %+v", i)
	}
}
