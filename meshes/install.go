package meshes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/meshdock/meshdock"
)

// Chart is one Helm release of a mesh's installation.
type Chart struct {
	Release   string // e.g. "linkerd-crds"
	Namespace string // e.g. "linkerd"
	// Path is a chart folder or archive (Source.Charts fetches those of a
	// repository into its cache).
	Path   string
	Values map[string]any
	// Keep and Generate: see Release.
	Keep     []string
	Generate func() (map[string]any, error)
}

// ChartTimeout bounds the install, upgrade or uninstall of one chart
// (including its hooks).
const ChartTimeout = 5 * time.Minute

// helmDriver keeps release records as Secrets in the release namespace, as
// the helm command does by default, so `helm list -n NS` shows them.
const helmDriver = "secret"

// Workload is a control-plane workload an installed chart runs, to wait for.
type Workload struct {
	APIVersion, Kind, Namespace, Name string
}

// InstallOptions tune InstallCharts.
type InstallOptions struct {
	Progress func(string)
	// Wait waits for the workloads of the installed charts to roll out,
	// after the last chart; nil does not wait.
	Wait func(ctx context.Context, workloads []Workload) error
	// HelmWait uses Helm's own Wait on each chart instead (it polls every
	// 2 s): kept to compare the two.
	HelmWait bool
	// Timeout bounds the whole install, charts and wait (DefaultInstallTimeout).
	Timeout time.Duration
}

// DefaultInstallTimeout bounds an install when InstallOptions say nothing.
const DefaultInstallTimeout = 10 * time.Minute

// InstallResult is what an install did.
type InstallResult struct {
	Workloads []Workload
}

// InstallCharts installs each chart in order, or upgrades it when its release
// exists, against the cluster of restConfig. It creates the namespaces it
// needs, then waits for the charts' workloads with opts.Wait. When any step
// fails, it puts the cluster back as it was: releases it installed are
// uninstalled, with the CRDs and namespaces they brought, and releases it
// upgraded are rolled back to the revision they had.
func InstallCharts(ctx context.Context, restConfig *rest.Config, charts []Chart, opts InstallOptions) (*InstallResult, error) {
	if opts.Progress == nil {
		opts.Progress = func(string) {}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultInstallTimeout
	}
	loaded := make([]*chart.Chart, len(charts))
	for i, c := range charts {
		ch, err := loadChart(c)
		if err != nil {
			return nil, err
		}
		loaded[i] = ch
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if ctx.Err() != nil {
		return nil, ctxError(ctx, "install", releaseNames(charts), began)
	}
	before, err := snapshotOf(ctx, restConfig, charts)
	if err != nil {
		return nil, err
	}
	res := &InstallResult{}
	var done []installed
	fail := func(err error) (*InstallResult, error) {
		undo(restConfig, done, before, opts.Progress)
		return nil, err
	}
	for i, c := range charts {
		in, err := installChart(ctx, restConfig, c, loaded[i], opts)
		if in.fresh || in.previous > 0 {
			done = append(done, in)
		}
		if err != nil {
			return fail(err)
		}
		res.Workloads = append(res.Workloads, in.workloads...)
	}
	if opts.Wait != nil && !opts.HelmWait && len(res.Workloads) > 0 {
		opts.Progress(fmt.Sprintf("waiting for %d control-plane workloads to roll out", len(res.Workloads)))
		start := time.Now()
		if err := opts.Wait(ctx, res.Workloads); err != nil {
			if ctx.Err() != nil {
				// The deadline's words, then the wait's: what it still
				// waited for and why.
				cerr := ctxError(ctx, "install", releaseNames(charts), began)
				err = meshdock.Wrap(meshdock.ErrorCode(cerr), err, "%s: %s", meshdock.ErrorMessage(cerr), meshdock.ErrorMessage(err))
			}
			return fail(err)
		}
		opts.Progress(fmt.Sprintf("control plane rolled out in %s", time.Since(start).Round(time.Millisecond)))
	}
	return res, nil
}

func releaseNames(charts []Chart) string {
	names := make([]string, len(charts))
	for i, c := range charts {
		names[i] = c.Release
	}
	return strings.Join(names, ", ")
}

func loadChart(c Chart) (*chart.Chart, error) {
	if c.Release == "" || c.Namespace == "" {
		return nil, meshdock.Errorf(meshdock.EINVALID, "chart %q: release and namespace are required", c.Path)
	}
	if c.Path == "" {
		return nil, meshdock.Errorf(meshdock.EINVALID, "chart %s: no chart folder given", c.Release)
	}
	ch, err := loader.Load(c.Path)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "chart %s cannot be loaded: %v", c.Release, err)
	}
	if reqs := ch.Metadata.Dependencies; len(reqs) > 0 {
		if err := action.CheckDependencies(ch, reqs); err != nil {
			return nil, meshdock.Wrap(meshdock.EINVALID, err, "chart %s: %v", c.Release, err)
		}
	}
	return ch, nil
}

// installed is one chart an install put in: fresh, or an upgrade from a
// revision; crds are the CRDs of the chart's crds/ folders, which Helm
// makes before anything else, even for a release it then fails to make.
type installed struct {
	chart     Chart
	fresh     bool
	previous  int
	crds      []string
	workloads []Workload
}

// settled are the states of a release an upgrade may start from: the
// others are an install, upgrade or uninstall that did not finish, which
// Helm refuses to build on or would roll back to nothing.
var settled = map[release.Status]bool{release.StatusDeployed: true, release.StatusFailed: true, release.StatusSuperseded: true}

func installChart(ctx context.Context, restConfig *rest.Config, c Chart, ch *chart.Chart, opts InstallOptions) (installed, error) {
	start := time.Now()
	out := installed{chart: c, crds: crdNames(ch)}
	if ctx.Err() != nil {
		return out, ctxError(ctx, "install", c.Release, start)
	}
	cfg, err := helmConfig(restConfig, c.Namespace)
	if err != nil {
		return out, err
	}
	last, err := lastRelease(cfg, c.Release)
	if err != nil {
		return out, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "release %s in namespace %s cannot be read: %v", c.Release, c.Namespace, err)
	}
	if last != nil {
		if err := ownRelease(last, c, ch); err != nil {
			return out, err
		}
	}
	verb := "installing"
	if last != nil {
		verb = "upgrading"
	}
	opts.Progress(fmt.Sprintf("%s %s (chart %s %s) in namespace %s", verb, c.Release, ch.Name(), ch.Metadata.Version, c.Namespace))

	values, err := valuesOf(c, last)
	if err != nil {
		return out, err
	}
	// Helm's Run...WithContext returns when its context ends but leaves its
	// work running, which would then make objects after an undo took the
	// release away. So Helm gets a context that is never canceled and the
	// time left as its own timeout (for hooks), and a cancel waits for it.
	timeout := ChartTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	hctx := context.WithoutCancel(ctx)
	type result struct {
		rel *release.Release
		err error
	}
	done := make(chan result, 1)
	if last != nil {
		out.previous = last.Version
		up := action.NewUpgrade(cfg)
		up.Namespace = c.Namespace
		up.Timeout = timeout
		up.Wait, up.WaitForJobs = opts.HelmWait, opts.HelmWait
		// The values of the release (the user's earlier ones), with this
		// install's over them.
		up.ResetThenReuseValues = true
		up.Labels = releaseLabels
		go func() { rel, err := up.RunWithContext(hctx, c.Release, ch, values); done <- result{rel, err} }()
	} else {
		in := action.NewInstall(cfg)
		in.ReleaseName = c.Release
		in.Namespace = c.Namespace
		in.CreateNamespace = true
		in.Timeout = timeout
		in.Wait, in.WaitForJobs = opts.HelmWait, opts.HelmWait
		in.Labels = releaseLabels
		out.fresh = true
		go func() { rel, err := in.RunWithContext(hctx, ch, values); done <- result{rel, err} }()
	}
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		opts.Progress(fmt.Sprintf("stopping: Helm finishes the step of %s it is in first", c.Release))
		r = <-done
		if r.err == nil {
			r.err = ctx.Err()
		}
	}
	if r.err != nil {
		if last != nil {
			return out, runError(ctx, r.err, "upgrade", c, start)
		}
		return out, runError(ctx, r.err, "install", c, start)
	}
	out.workloads = workloadsOf(r.rel.Manifest, c.Namespace)
	opts.Progress(fmt.Sprintf("%s revision %d deployed in %s", c.Release, r.rel.Version, time.Since(start).Round(time.Millisecond)))
	return out, nil
}

// releaseLabels mark the releases meshdock made (on Helm's record).
var releaseLabels = map[string]string{"app.kubernetes.io/managed-by": "meshdock"}

// ownRelease refuses to upgrade a release that is not of c's chart, or
// one that is in the middle of something.
func ownRelease(last *release.Release, c Chart, ch *chart.Chart) error {
	if last.Chart != nil && last.Chart.Metadata != nil && last.Chart.Metadata.Name != ch.Name() {
		return meshdock.Errorf(meshdock.ECONFLICT, "release %s in namespace %s is of chart %s, not %s: it is not this mesh's installation; uninstall it first (helm uninstall %s -n %s)",
			c.Release, c.Namespace, last.Chart.Metadata.Name, ch.Name(), c.Release, c.Namespace)
	}
	if last.Info != nil && !settled[last.Info.Status] {
		return meshdock.Errorf(meshdock.ECONFLICT, "release %s in namespace %s is %s (a step that did not finish): uninstall the mesh and install it again", c.Release, c.Namespace, last.Info.Status)
	}
	return nil
}

// valuesOf are the values to install c with: c's own, over values c
// generates for a new installation or, on an upgrade, over those of them
// the release deployed has. A release that has any is never given new
// ones: a new trust anchor beside a kept one would break every proxy.
func valuesOf(c Chart, last *release.Release) (map[string]any, error) {
	values := c.Values
	if values == nil {
		values = map[string]any{}
	}
	if last != nil && len(c.Keep) > 0 {
		kept := map[string]any{}
		found := false
		for _, k := range c.Keep {
			if v, ok := valueAt(last.Config, k); ok {
				setValueAt(kept, k, v)
				found = true
			}
		}
		if found {
			return MergeValues(kept, values), nil
		}
	}
	if c.Generate == nil {
		return values, nil
	}
	gen, err := c.Generate()
	if err != nil {
		return nil, err
	}
	return MergeValues(gen, values), nil

}

// workloadsOf lists the workloads of a release's manifest; those without a
// namespace are in ns.
func workloadsOf(manifest, ns string) []Workload {
	var out []Workload
	for _, doc := range strings.Split(manifest, "\n---") {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil || head.APIVersion != "apps/v1" {
			continue
		}
		switch head.Kind {
		case "Deployment", "StatefulSet", "DaemonSet":
		default:
			continue
		}
		if head.Metadata.Namespace == "" {
			head.Metadata.Namespace = ns
		}
		out = append(out, Workload{APIVersion: head.APIVersion, Kind: head.Kind, Namespace: head.Metadata.Namespace, Name: head.Metadata.Name})
	}
	return out
}

// UninstallCharts uninstalls the releases in reverse order. A release that
// does not exist is skipped. It returns what is left behind: the CRDs of
// each chart's crds/ folder (Helm never deletes them) and the resources kept
// by a "helm.sh/resource-policy: keep" annotation.
func UninstallCharts(ctx context.Context, restConfig *rest.Config, charts []Chart, progress func(string)) ([]string, error) {
	if progress == nil {
		progress = func(string) {}
	}
	var kept []string
	for i := len(charts) - 1; i >= 0; i-- {
		c := charts[i]
		if ctx.Err() != nil {
			return kept, ctxError(ctx, "uninstall", c.Release, time.Now())
		}
		if c.Release == "" || c.Namespace == "" {
			return kept, meshdock.Errorf(meshdock.EINVALID, "chart %q: release and namespace are required", c.Path)
		}
		left, err := uninstallChart(ctx, restConfig, c, progress)
		kept = append(kept, left...)
		if err != nil {
			return kept, err
		}
	}
	return kept, nil
}

func uninstallChart(ctx context.Context, restConfig *rest.Config, c Chart, progress func(string)) ([]string, error) {
	cfg, err := helmConfig(restConfig, c.Namespace)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, ChartTimeout)
	defer cancel()

	exists, err := releaseExists(cfg, c.Release)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "release %s in namespace %s cannot be read: %v", c.Release, c.Namespace, err)
	}
	if !exists {
		progress(fmt.Sprintf("%s is not installed in namespace %s", c.Release, c.Namespace))
		return nil, nil
	}
	progress(fmt.Sprintf("uninstalling %s from namespace %s", c.Release, c.Namespace))
	if err := dropUnservedKinds(cfg, c.Release, progress); err != nil {
		return nil, err
	}

	// Helm logs why a deletion failed and returns only that it did.
	var mu sync.Mutex
	var failures []string
	cfg.Log = func(format string, v ...any) {
		if line := fmt.Sprintf(format, v...); strings.Contains(line, "Failed") {
			mu.Lock()
			failures = append(failures, line)
			mu.Unlock()
		}
	}
	un := action.NewUninstall(cfg)
	un.Timeout = ChartTimeout
	// Helm's Uninstall takes no context: run it aside and stop waiting when
	// ctx is done. The deletion carries on in the cluster.
	type result struct {
		info    string
		crdsDir []string
		err     error
	}
	done := make(chan result, 1)
	go func() {
		res, err := un.Run(c.Release)
		var r result
		r.err = err
		if res != nil {
			r.info = res.Info
			if res.Release != nil && res.Release.Chart != nil {
				r.crdsDir = crdNames(res.Release.Chart)
			}
		}
		done <- r
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		return nil, ctxError(ctx, "uninstall", c.Release, start)
	}
	if r.err != nil {
		mu.Lock()
		why := strings.Join(failures, "; ")
		mu.Unlock()
		if why != "" {
			return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, r.err, "uninstall of %s failed: %v: %s", c.Release, r.err, why)
		}
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, r.err, "uninstall of %s failed: %v", c.Release, r.err)
	}
	left := r.crdsDir
	left = append(left, keptResources(r.info)...)
	progress(fmt.Sprintf("%s uninstalled in %s", c.Release, time.Since(start).Round(time.Millisecond)))
	for _, k := range left {
		progress(fmt.Sprintf("%s left behind %s", c.Release, k))
	}
	return left, nil
}

// dropUnservedKinds removes from the deployed release's manifest the
// objects whose kinds the cluster no longer serves (their CRDs went with
// another mesh: Kuma renders a GatewayClass when Consul's Gateway API CRDs
// are there), which Helm's uninstall would otherwise fail on. Those objects
// went with their CRDs.
func dropUnservedKinds(cfg *action.Configuration, name string, progress func(string)) error {
	rel, err := lastRelease(cfg, name)
	if err != nil || rel == nil {
		return err
	}
	mapper, err := cfg.RESTClientGetter.ToRESTMapper()
	if err != nil {
		return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "discovering the kinds of the cluster: %v", err)
	}
	docs := strings.Split(rel.Manifest, "\n---")
	kept := docs[:0]
	dropped := 0
	for _, doc := range docs {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err == nil && head.Kind != "" {
			gv, _ := schema.ParseGroupVersion(head.APIVersion)
			if _, err := mapper.RESTMapping(gv.WithKind(head.Kind).GroupKind(), gv.Version); meta.IsNoMatchError(err) {
				progress(fmt.Sprintf("%s: %s objects are gone with their CRD", name, head.Kind))
				dropped++
				continue
			}
		}
		kept = append(kept, doc)
	}
	if dropped == 0 {
		return nil
	}
	rel.Manifest = strings.Join(kept, "\n---")
	if err := cfg.Releases.Update(rel); err != nil {
		return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "release %s cannot be updated: %v", name, err)
	}
	return nil
}

// crdNames names the CRDs of a chart's crds/ folders (its own and its
// dependencies'), which Helm installs but never upgrades or deletes.
func crdNames(ch *chart.Chart) []string {
	var names []string
	for _, crd := range ch.CRDObjects() {
		for _, doc := range strings.Split(string(crd.File.Data), "\n---") {
			if name := metadataName(doc); name != "" {
				names = append(names, "CustomResourceDefinition "+name)
			}
		}
	}
	return names
}

// metadataName finds the top-level metadata.name of one YAML document
// without a full decode: CRD files are large and only the name is wanted.
func metadataName(doc string) string {
	inMeta := false
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case strings.HasPrefix(line, "metadata:"):
			inMeta = true
		case inMeta && strings.HasPrefix(line, "  name:"):
			return strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "  name:")), `"'`)
		case inMeta && line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#"):
			inMeta = false
		}
	}
	return ""
}

// keptResources reads the list Helm's uninstall puts in its Info: "These
// resources were kept due to the resource policy:" followed by one
// "[Kind] name" per line, each returned as "Kind name".
func keptResources(info string) []string {
	_, list, ok := strings.Cut(info, "resource policy:")
	if !ok {
		return nil
	}
	var kept []string
	for _, line := range strings.Split(list, "\n") {
		line = strings.TrimSpace(line)
		if kind, name, ok := strings.Cut(strings.TrimPrefix(line, "["), "] "); ok {
			line = kind + " " + name
		}
		if line != "" {
			kept = append(kept, line)
		}
	}
	return kept
}

func releaseExists(cfg *action.Configuration, name string) (bool, error) {
	last, err := lastRelease(cfg, name)
	return last != nil, err
}

// lastRelease is the newest revision of a release, or nil when there is none.
func lastRelease(cfg *action.Configuration, name string) (*release.Release, error) {
	h := action.NewHistory(cfg)
	h.Max = 1
	rels, err := h.Run(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var last *release.Release
	for _, r := range rels {
		if last == nil || r.Version > last.Version {
			last = r
		}
	}
	return last, nil
}

func runError(ctx context.Context, err error, verb string, c Chart, start time.Time) error {
	if ctx.Err() != nil {
		return ctxError(ctx, verb, c.Release, start)
	}
	return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "%s of %s in namespace %s failed: %v", verb, c.Release, c.Namespace, err)
}

// ctxError classifies ctx's error for one chart: a deadline says how long
// the chart had, a cancellation is the caller's.
func ctxError(ctx context.Context, verb, release string, start time.Time) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		allowed := "its deadline"
		if dl, ok := ctx.Deadline(); ok && dl.After(start) {
			allowed = dl.Sub(start).Round(100 * time.Millisecond).String()
		}
		return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "%s of %s did not finish within %s", verb, release, allowed)
	}
	return meshdock.Wrap(meshdock.ECANCELED, err, "%s of %s canceled", verb, release)
}

func helmConfig(restConfig *rest.Config, namespace string) (*action.Configuration, error) {
	getter, err := newRESTGetter(restConfig, namespace)
	if err != nil {
		return nil, err
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(getter, namespace, helmDriver, func(string, ...interface{}) {}); err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "helm cannot reach the cluster: %v", err)
	}
	return cfg, nil
}

// restGetter gives Helm a cluster from a *rest.Config instead of a
// kubeconfig file, which genericclioptions.ConfigFlags would read.
type restGetter struct {
	config    *rest.Config
	namespace string
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
}

var _ genericclioptions.RESTClientGetter = (*restGetter)(nil)

func newRESTGetter(config *rest.Config, namespace string) (*restGetter, error) {
	config = rest.CopyConfig(config)
	// The API server's warnings about a chart's fields (deprecated
	// annotations, unknown formats) are the chart's, not the user's to act on.
	config.WarningHandler = rest.NoWarnings{}
	dc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cluster client: %v", err)
	}
	cached := memory.NewMemCacheClient(dc)
	return &restGetter{
		config:    config,
		namespace: namespace,
		discovery: cached,
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(cached),
	}, nil
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.discovery, nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) { return g.mapper, nil }

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return restClientConfig{g}
}

// restClientConfig answers the kubeconfig questions Helm and kubectl's
// factory ask (the client config and the default namespace) from the getter.
type restClientConfig struct{ g *restGetter }

func (c restClientConfig) RawConfig() (clientcmdapi.Config, error) {
	return clientcmdapi.Config{}, nil
}

func (c restClientConfig) ClientConfig() (*rest.Config, error) { return c.g.ToRESTConfig() }

func (c restClientConfig) Namespace() (string, bool, error) { return c.g.namespace, true, nil }

func (c restClientConfig) ConfigAccess() clientcmd.ConfigAccess {
	return clientcmd.NewDefaultClientConfigLoadingRules()
}
