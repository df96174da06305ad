package kube

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/meshdock/meshdock"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Client-side rate limits. client-go's defaults (5 QPS, burst 10) throttle a
// rollout poll of a dozen objects every 100 ms, and at 50 QPS redeploying an
// app of a dozen objects (a read and an apply each) waits half a second for
// the limiter alone. Servers protect themselves with priority and fairness;
// kubectl allows a burst of 300.
const (
	clientQPS   = 200
	clientBurst = 300
)

// Config is one context of a kubeconfig, resolved into everything needed to
// reach its API server. The zero Config is unconfigured.
type Config struct {
	// Context is the name of the context used.
	Context string
	// Cluster is the name of the context's cluster entry.
	Cluster string
	// Server is the API server's URL.
	Server string
	// Namespace is the context's namespace, "default" when it names none.
	Namespace string

	rest *rest.Config
}

// REST returns a copy of the client-go configuration, for libraries that
// build their own clients (Helm). It is nil for the zero Config.
func (c Config) REST() *rest.Config {
	if c.rest == nil {
		return nil
	}
	return rest.CopyConfig(c.rest)
}

// Load reads a kubeconfig from bytes and resolves the named context, or the
// current context when context is "". Files the kubeconfig names (keys,
// certificates, exec plugins) are read relative to the working directory;
// kubeconfigs posted by users should embed their data.
func Load(kubeconfig []byte, context string) (Config, error) {
	raw, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return Config{}, meshdock.Wrap(meshdock.EINVALID, err, "kubeconfig: %v", err)
	}
	return resolve(clientcmd.NewNonInteractiveClientConfig(*raw, context, &clientcmd.ConfigOverrides{}, nil), context)
}

// LoadFile reads the kubeconfig file at path and resolves the named context,
// or the current context when context is "".
func LoadFile(path, context string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		code := meshdock.EINVALID
		if errors.Is(err, os.ErrNotExist) {
			code = meshdock.ENOTFOUND
		}
		return Config{}, meshdock.Wrap(code, err, "kubeconfig %s: %v", path, err)
	}
	raw, err := clientcmd.Load(data)
	if err != nil {
		return Config{}, meshdock.Wrap(meshdock.EINVALID, err, "kubeconfig %s: %v", path, err)
	}
	// Relative paths inside the file are relative to the file, as for kubectl.
	for _, c := range raw.Clusters {
		c.LocationOfOrigin = path
	}
	for _, u := range raw.AuthInfos {
		u.LocationOfOrigin = path
	}
	if err := clientcmd.ResolveLocalPaths(raw); err != nil {
		return Config{}, meshdock.Wrap(meshdock.EINVALID, err, "kubeconfig %s: %v", path, err)
	}
	return resolve(clientcmd.NewNonInteractiveClientConfig(*raw, context, &clientcmd.ConfigOverrides{}, nil), context)
}

// LoadDefault resolves the named context (or the current one, for "") of the
// kubeconfig found the way kubectl finds it: the files listed in $KUBECONFIG,
// merged, or else ~/.kube/config.
func LoadDefault(context string) (Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	return resolve(clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides), context)
}

// Contexts lists the context names of a kubeconfig, sorted, and its current
// context.
func Contexts(kubeconfig []byte) (names []string, current string, err error) {
	raw, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, "", meshdock.Wrap(meshdock.EINVALID, err, "kubeconfig: %v", err)
	}
	for name := range raw.Contexts {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, raw.CurrentContext, nil
}

func resolve(cc clientcmd.ClientConfig, context string) (Config, error) {
	raw, err := cc.RawConfig()
	if err != nil {
		return Config{}, meshdock.Wrap(meshdock.EINVALID, err, "kubeconfig: %v", err)
	}
	name := context
	if name == "" {
		name = raw.CurrentContext
	}
	if name == "" {
		return Config{}, meshdock.Errorf(meshdock.EINVALID, "kubeconfig: no context given and no current context set")
	}
	kctx, ok := raw.Contexts[name]
	if !ok {
		return Config{}, meshdock.Errorf(meshdock.ENOTFOUND, "kubeconfig: no context %q", name)
	}
	if _, ok := raw.Clusters[kctx.Cluster]; !ok {
		return Config{}, meshdock.Errorf(meshdock.EINVALID, "kubeconfig context %q: no cluster %q", name, kctx.Cluster)
	}
	rc, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return Config{}, meshdock.Wrap(meshdock.EINVALID, err, "kubeconfig: empty")
		}
		return Config{}, meshdock.Wrap(meshdock.EINVALID, err, "kubeconfig context %q: %v", name, err)
	}
	rc.QPS, rc.Burst = clientQPS, clientBurst
	rc.UserAgent = "meshdock"
	ns := kctx.Namespace
	if ns == "" {
		ns = "default"
	}
	return Config{Context: name, Cluster: kctx.Cluster, Server: rc.Host, Namespace: ns, rest: rc}, nil
}

// String names the context and server, for messages and logs.
func (c Config) String() string {
	if c.rest == nil {
		return "no cluster"
	}
	return fmt.Sprintf("context %q (%s)", c.Context, c.Server)
}

// LoadConfig resolves the named context (or the current one, for "") of a
// kubeconfig already parsed.
func LoadConfig(raw clientcmdapi.Config, context string) (Config, error) {
	return resolve(clientcmd.NewNonInteractiveClientConfig(raw, context, &clientcmd.ConfigOverrides{}, nil), context)
}

// CheckEmbedded refuses a kubeconfig that would make the process using it
// read its own files or run its own programs: certificate, key and token
// files, exec credential plugins and auth providers. A kubeconfig posted to
// a server must carry its data inline (kubectl config view --minify
// --flatten writes it so).
func CheckEmbedded(raw *clientcmdapi.Config) error {
	for name, c := range raw.Clusters {
		if c.CertificateAuthority != "" {
			return meshdock.Errorf(meshdock.EINVALID, "kubeconfig cluster %q names a certificate file: embed it (kubectl config view --minify --flatten)", name)
		}
		if c.ProxyURL != "" {
			return meshdock.Errorf(meshdock.EINVALID, "kubeconfig cluster %q names a proxy: not supported here", name)
		}
	}
	for name, u := range raw.AuthInfos {
		switch {
		case u.ClientCertificate != "" || u.ClientKey != "" || u.TokenFile != "":
			return meshdock.Errorf(meshdock.EINVALID, "kubeconfig user %q names a certificate, key or token file: embed it (kubectl config view --minify --flatten)", name)
		case u.Exec != nil:
			return meshdock.Errorf(meshdock.EINVALID, "kubeconfig user %q runs a credential plugin (%s): not allowed in a kubeconfig sent to the server; use a token or client certificate", name, u.Exec.Command)
		case u.AuthProvider != nil:
			return meshdock.Errorf(meshdock.EINVALID, "kubeconfig user %q uses an auth provider: not allowed in a kubeconfig sent to the server", name)
		}
	}
	return nil
}
