package meshes

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/provenance"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/meshdock/meshdock"
)

// writeChartFiles writes files (by path under dir) and returns dir.
func writeChartFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// meshChartDirs are the chart folders that hold every mesh's charts, or a
// skip naming the one missing.
func meshChartDirs(t *testing.T) []string {
	t.Helper()
	istio := os.Getenv("MESHDOCK_ISTIO_CHARTS")
	if istio == "" {
		t.Skip(`needs Istio's charts: MESHDOCK_ISTIO_CHARTS is not set (eval "$(scripts/testenv env)")`)
	}
	dirs := []string{sharedCharts, istio}
	for _, d := range dirs {
		if info, err := os.Stat(d); err != nil || !info.IsDir() {
			t.Skipf("needs the chart folder %s: %v", d, err)
		}
	}
	return dirs
}

func TestSourceChartsFromDirs(t *testing.T) {
	src := Source{Dirs: meshChartDirs(t)}
	for _, mesh := range Names() {
		t.Run(mesh, func(t *testing.T) {
			in, err := InstallationOf(mesh)
			if err != nil {
				t.Fatal(err)
			}
			user := map[string]map[string]any{}
			for _, r := range in.Releases {
				user[r.Name] = map[string]any{"fromUser": map[string]any{"release": r.Name}}
			}
			charts, err := src.Charts(context.Background(), in, user)
			if err != nil {
				t.Fatalf("Charts: %v (%s)", err, meshdock.ErrorCode(err))
			}
			if len(charts) != len(in.Releases) {
				t.Fatalf("%d charts for %d releases", len(charts), len(in.Releases))
			}
			for i, r := range in.Releases {
				c := charts[i]
				if c.Release != r.Name || c.Namespace != r.Namespace {
					t.Errorf("chart %d is release %s in %s, want %s in %s", i, c.Release, c.Namespace, r.Name, r.Namespace)
				}
				meta, err := chartutil.LoadChartfile(filepath.Join(c.Path, "Chart.yaml"))
				if err != nil {
					t.Fatalf("release %s: %v", r.Name, err)
				}
				if meta.Name != r.Chart {
					t.Errorf("release %s resolved to %s, chart %q, want %q", r.Name, c.Path, meta.Name, r.Chart)
				}
				if v, _ := valueAt(c.Values, "fromUser.release"); v != r.Name {
					t.Errorf("release %s: user's value fromUser.release = %v", r.Name, v)
				}
				mine := MergeValues(c.Values, nil)
				delete(mine, "fromUser")
				if len(mine) != 0 || len(r.Values) != 0 {
					if !reflect.DeepEqual(mine, r.Values) {
						t.Errorf("release %s: meshdock's values became %v, want %v", r.Name, mine, r.Values)
					}
				}
				if !slices.Equal(c.Keep, r.Keep) || (c.Generate == nil) != (r.Generate == nil) {
					t.Errorf("release %s: Keep %q, Generate set %v; want %q, %v", r.Name, c.Keep, c.Generate != nil, r.Keep, r.Generate != nil)
				}
			}
		})
	}
}

func TestSourceChartsUserValuesWin(t *testing.T) {
	src := Source{Dirs: meshChartDirs(t)}
	for _, tc := range []struct {
		mesh, release string
		user          map[string]any
		want          map[string]any // dotted path: value
	}{
		{Istio, "istiod",
			map[string]any{"tag": "mine", "global": map[string]any{"tag": "mine"}},
			map[string]any{"tag": "mine", "hub": "docker.io/istio", "global.tag": "mine", "global.hub": "docker.io/istio"}},
		{IstioAmbient, "ztunnel",
			map[string]any{"profile": "mine"},
			map[string]any{"profile": "mine", "global.tag": IstioVersion}},
		{Linkerd, "linkerd-control-plane",
			map[string]any{"proxy": map[string]any{"logLevel": "debug"}},
			map[string]any{"proxy.logLevel": "debug", "proxy.nativeSidecar": true}},
		{Consul, "consul",
			map[string]any{"server": map[string]any{"replicas": 3}, "connectInject": "off"},
			map[string]any{"server.replicas": 3, "global.name": "consul", "connectInject": "off"}},
	} {
		t.Run(tc.mesh, func(t *testing.T) {
			in, err := InstallationOf(tc.mesh)
			if err != nil {
				t.Fatal(err)
			}
			charts, err := src.Charts(context.Background(), in, map[string]map[string]any{tc.release: tc.user})
			if err != nil {
				t.Fatalf("Charts: %v", err)
			}
			var c *Chart
			for i := range charts {
				if charts[i].Release == tc.release {
					c = &charts[i]
				}
			}
			if c == nil {
				t.Fatalf("no chart of release %s", tc.release)
			}
			for path, want := range tc.want {
				if got, ok := valueAt(c.Values, path); !ok || got != want {
					t.Errorf("%s = %v (set %v), want %v", path, got, ok, want)
				}
			}
			// The user's values are merged into copies: the installation's
			// own are as InstallationOf made them.
			fresh, _ := InstallationOf(tc.mesh)
			for i, r := range in.Releases {
				if !reflect.DeepEqual(r.Values, fresh.Releases[i].Values) {
					t.Errorf("release %s: the installation's values became %v", r.Name, r.Values)
				}
			}
		})
	}
}

func TestSourceChartsNotFound(t *testing.T) {
	dir := writeChartFiles(t, t.TempDir(), map[string]string{
		"tiny/Chart.yaml": "apiVersion: v2\nname: tiny\nversion: 0.1.0\n",
	})
	file := filepath.Join(dir, "tiny", "Chart.yaml")
	ctx := context.Background()
	tiny := Installation{Mesh: "test", Releases: []Release{{Name: "tiny-release", Namespace: "ns", Chart: "tiny", Version: "0.1.0"}}}
	absent := Installation{Mesh: "test", Releases: []Release{{Name: "absent-release", Namespace: "ns", Chart: "absent-chart", Version: "0.1.0"}}}

	charts, err := Source{Dirs: []string{dir}}.Charts(ctx, tiny, nil)
	if err != nil || len(charts) != 1 || charts[0].Path != filepath.Join(dir, "tiny") {
		t.Fatalf("Charts of a chart that is there: %+v, %v", charts, err)
	}
	for _, tc := range []struct {
		name string
		dirs []string
		in   Installation
		want string
	}{
		{"missing chart", []string{dir}, absent, "absent-chart"},
		// The folders are the server's: named by number, not path.
		{"missing folder", []string{dir, filepath.Join(dir, "no-such-folder")}, tiny, "chart folder 2 of 2"},
		{"file as folder", []string{file}, tiny, "chart folder 1 of 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Source{Dirs: tc.dirs}.Charts(ctx, tc.in, nil)
			if meshdock.ErrorCode(err) != meshdock.ENOTFOUND || !strings.Contains(meshdock.ErrorMessage(err), tc.want) {
				t.Fatalf("got %v (%s), want %s naming %q", err, meshdock.ErrorCode(err), meshdock.ENOTFOUND, tc.want)
			}
			if strings.Contains(meshdock.ErrorMessage(err), dir) {
				t.Errorf("the message names the server's folder: %s", meshdock.ErrorMessage(err))
			}
		})
	}
}

// chartRepo serves a Helm repository holding one chart, name at version,
// and counts the requests it gets.
func chartRepo(t *testing.T, name, version string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	src := writeChartFiles(t, t.TempDir(), map[string]string{
		"Chart.yaml":            "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n",
		"values.yaml":           "greeting: hello\n",
		"templates/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
	})
	ch, err := loader.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	served := t.TempDir()
	archive, err := chartutil.Save(ch, served)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := provenance.DigestFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	idx := repo.NewIndexFile()
	if err := idx.MustAdd(ch.Metadata, filepath.Base(archive), "", digest); err != nil {
		t.Fatal(err)
	}
	idx.SortEntries()
	if err := idx.WriteFile(filepath.Join(served, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int64
	files := http.FileServer(http.Dir(served))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

func TestSourceChartsFromRepo(t *testing.T) {
	cache := t.TempDir()
	// Everything a fetch writes is in the Cache: nothing in the Helm cache
	// of the server's user, which may not even be writable.
	helmCache := t.TempDir()
	t.Setenv("HELM_CACHE_HOME", helmCache)
	srv, requests := chartRepo(t, "tiny", "0.3.1")
	ctx := context.Background()
	in := Installation{Mesh: "test", Repo: "http://127.0.0.1:1/replaced",
		Releases: []Release{{Name: "tiny-release", Namespace: "tiny-ns", Chart: "tiny", Version: "0.3.1",
			Values: map[string]any{"greeting": "meshdock's", "keep": true}}}}
	user := map[string]map[string]any{"tiny-release": {"greeting": "user's"}}
	src := Source{Repo: srv.URL, Cache: cache}

	start := time.Now()
	charts, err := src.Charts(ctx, in, user)
	if err != nil {
		t.Fatalf("Charts: %v (%s)", err, meshdock.ErrorCode(err))
	}
	t.Logf("first fetch: %s, %d requests", time.Since(start).Round(time.Millisecond), requests.Load())
	if len(charts) != 1 {
		t.Fatalf("%d charts", len(charts))
	}
	c := charts[0]
	if c.Release != "tiny-release" || c.Namespace != "tiny-ns" {
		t.Errorf("chart of release %s in %s", c.Release, c.Namespace)
	}
	if !reflect.DeepEqual(c.Values, map[string]any{"greeting": "user's", "keep": true}) {
		t.Errorf("values %v", c.Values)
	}
	if !strings.HasPrefix(c.Path, cache+string(filepath.Separator)) {
		t.Errorf("chart at %s, not in the cache %s", c.Path, cache)
	}
	ch, err := loader.Load(c.Path)
	if err != nil {
		t.Fatalf("the fetched chart does not load: %v", err)
	}
	if ch.Name() != "tiny" || ch.Metadata.Version != "0.3.1" {
		t.Errorf("fetched chart %s %s, want tiny 0.3.1", ch.Name(), ch.Metadata.Version)
	}
	fetched := requests.Load()
	if fetched == 0 {
		t.Fatal("the repository was never asked")
	}
	if left, _ := os.ReadDir(helmCache); len(left) != 0 {
		t.Errorf("the fetch wrote into the user's Helm cache: %v", left)
	}
	var files []string
	filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 || files[0] != c.Path {
		t.Errorf("the cache holds %q, want only the chart %s", files, c.Path)
	}

	// Again, and through the installation's own repository (the same URL):
	// both from the cache.
	again, err := src.Charts(ctx, in, user)
	if err != nil || len(again) != 1 || again[0].Path != c.Path {
		t.Fatalf("second Charts: %+v, %v", again, err)
	}
	in.Repo = srv.URL
	again, err = Source{Cache: cache}.Charts(ctx, in, nil)
	if err != nil || len(again) != 1 || again[0].Path != c.Path {
		t.Fatalf("Charts from the installation's repository: %+v, %v", again, err)
	}
	if n := requests.Load(); n != fetched {
		t.Errorf("the cached chart was fetched again: %d requests after the first call's %d", n, fetched)
	}
}

func TestSourceChartsFromRepoFails(t *testing.T) {
	cache := t.TempDir()
	srv, _ := chartRepo(t, "tiny", "0.3.1")
	ctx := context.Background()
	tiny := func(version string) Installation {
		return Installation{Mesh: "test", Releases: []Release{{Name: "tiny-release", Namespace: "ns", Chart: "tiny", Version: version}}}
	}
	for _, tc := range []struct {
		name      string
		repo      string
		version   string
		wantWords []string
	}{
		{"unreachable", "http://127.0.0.1:1", "0.3.1", []string{"cannot be fetched from", "http://127.0.0.1:1", "tiny"}},
		{"version not in the index", srv.URL, "9.9.9", []string{"cannot be fetched from", "tiny", "9.9.9"}},
		{"chart not in the index", srv.URL, "0.3.1", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tiny(tc.version)
			if tc.wantWords == nil {
				in.Releases[0].Chart = "other"
				tc.wantWords = []string{"cannot be fetched from", "other"}
			}
			_, err := Source{Repo: tc.repo, Cache: cache}.Charts(ctx, in, nil)
			t.Log(err)
			if meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE {
				t.Fatalf("got %v (%s), want %s", err, meshdock.ErrorCode(err), meshdock.EUNAVAILABLE)
			}
			for _, w := range tc.wantWords {
				if !strings.Contains(meshdock.ErrorMessage(err), w) {
					t.Errorf("message %q does not say %q", meshdock.ErrorMessage(err), w)
				}
			}
		})
	}

	// A repository that answers only when the test ends: the fetch is
	// given up when the context is done, before or during it.
	release := make(chan struct{})
	asked := make(chan struct{}, 10)
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "gone", http.StatusServiceUnavailable)
	}))
	t.Cleanup(stuck.Close)
	t.Cleanup(func() { close(release) })
	src := Source{Repo: stuck.URL, Cache: cache}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := src.Charts(canceled, tiny("0.3.1"), nil)
	if meshdock.ErrorCode(err) != meshdock.ECANCELED || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled before: got %v (%s), want %s", err, meshdock.ErrorCode(err), meshdock.ECANCELED)
	}

	during, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-asked
		cancel()
	}()
	start := time.Now()
	_, err = src.Charts(during, tiny("0.3.2"), nil)
	if meshdock.ErrorCode(err) != meshdock.ECANCELED {
		t.Errorf("canceled during: got %v (%s), want %s", err, meshdock.ErrorCode(err), meshdock.ECANCELED)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a canceled fetch took %s to return", d)
	}

	// Out of time is the repository's fault, not a cancellation.
	late, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = src.Charts(late, tiny("0.3.3"), nil)
	if meshdock.ErrorCode(err) != meshdock.EUNAVAILABLE || !strings.Contains(meshdock.ErrorMessage(err), "cannot be fetched from") {
		t.Errorf("out of time: got %v (%s), want %s", err, meshdock.ErrorCode(err), meshdock.EUNAVAILABLE)
	}
}

func TestLinkerdIdentity(t *testing.T) {
	first, err := linkerdIdentity()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range linkerdIdentityKeys {
		if _, ok := valueAt(first, k); !ok {
			t.Errorf("%s is kept on upgrade but not made", k)
		}
	}
	root := identityCert(t, first, "identityTrustAnchorsPEM")
	issuer := identityCert(t, first, "identity.issuer.tls.crtPEM")
	key := identityKey(t, first)

	if !root.IsCA || !root.BasicConstraintsValid || root.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("trust anchor: CA %v, basic constraints %v, key usage %b", root.IsCA, root.BasicConstraintsValid, root.KeyUsage)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("trust anchor is not self-signed: %v", err)
	}
	if !issuer.IsCA || issuer.MaxPathLen != 0 || !issuer.MaxPathLenZero || issuer.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("issuer: CA %v, MaxPathLen %d, MaxPathLenZero %v, key usage %b", issuer.IsCA, issuer.MaxPathLen, issuer.MaxPathLenZero, issuer.KeyUsage)
	}
	if err := issuer.CheckSignatureFrom(root); err != nil {
		t.Errorf("issuer is not signed by the trust anchor: %v", err)
	}
	if pub, ok := issuer.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) || pub.Curve != elliptic.P256() {
		t.Errorf("the issuer's key is not its certificate's, or not P-256")
	}
	now := time.Now()
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name  string
		cert  *x509.Certificate
		years int
	}{{"trust anchor", root, 10}, {"issuer", issuer, 5}} {
		want := time.Duration(tc.years) * 365 * day
		if got := tc.cert.NotAfter.Sub(tc.cert.NotBefore); got < want-2*day || got > want+2*day {
			t.Errorf("%s valid for %s, want about %d years", tc.name, got, tc.years)
		}
		if tc.cert.NotBefore.After(now) || tc.cert.NotBefore.Before(now.Add(-time.Hour)) {
			t.Errorf("%s valid from %s, now is %s", tc.name, tc.cert.NotBefore, now)
		}
	}

	// A proxy's certificate, as Linkerd's identity service signs it,
	// verifies up to the trust anchor; a CA under the issuer does not.
	roots := x509.NewCertPool()
	roots.AddCert(root)
	verify := func(leaf *x509.Certificate, chain ...*x509.Certificate) error {
		inter := x509.NewCertPool()
		for _, c := range chain {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		return err
	}
	proxy, _ := signedBy(t, issuer, key, false)
	if err := verify(proxy, issuer); err != nil {
		t.Errorf("a proxy certificate does not verify: %v", err)
	}
	sub, subKey := signedBy(t, issuer, key, true)
	below, _ := signedBy(t, sub, subKey, false)
	if err := verify(below, issuer, sub); err == nil {
		t.Error("a certificate under a CA under the issuer verifies: the issuer is not limited to leaves")
	}

	second, err := linkerdIdentity()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range linkerdIdentityKeys {
		a, _ := valueAt(first, k)
		b, _ := valueAt(second, k)
		if a == b {
			t.Errorf("two identities share %s", k)
		}
	}
	if identityKey(t, second).Equal(key) {
		t.Error("two identities share the issuer's key")
	}
}

func identityCert(t *testing.T, values map[string]any, path string) *x509.Certificate {
	t.Helper()
	der := identityPEM(t, values, path, "CERTIFICATE")
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cert
}

func identityKey(t *testing.T, values map[string]any) *ecdsa.PrivateKey {
	t.Helper()
	const path = "identity.issuer.tls.keyPEM"
	key, err := x509.ParseECPrivateKey(identityPEM(t, values, path, "EC PRIVATE KEY"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return key
}

func identityPEM(t *testing.T, values map[string]any, path, typ string) []byte {
	t.Helper()
	v, _ := valueAt(values, path)
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s is %T, not a string", path, v)
	}
	block, rest := pem.Decode([]byte(s))
	if block == nil || block.Type != typ || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("%s is not one PEM block of type %s: %q", path, typ, s)
	}
	return block.Bytes
}

// signedBy makes a certificate, a CA or a leaf, signed by parent.
func signedBy(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "test.linkerd.cluster.local"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	if isCA {
		tmpl.IsCA, tmpl.KeyUsage, tmpl.ExtKeyUsage = true, x509.KeyUsageCertSign, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestValuesOf(t *testing.T) {
	keep := []string{"ca.crt", "ca.key"}
	chartValues := map[string]any{"ca": map[string]any{"key": "chart's key"}, "replicas": 2}
	generated := map[string]any{"ca": map[string]any{"crt": "new crt", "key": "new key", "made": true}, "replicas": 1}
	deployed := map[string]any{"ca": map[string]any{"crt": "old crt", "key": "old key"}, "replicas": 5, "other": "not kept"}
	for _, tc := range []struct {
		name     string
		last     *release.Release
		values   map[string]any
		generate bool
		want     map[string]any
		wantGen  int
	}{
		{"fresh", nil, chartValues, true,
			map[string]any{"ca": map[string]any{"crt": "new crt", "key": "chart's key", "made": true}, "replicas": 2}, 1},
		{"upgrade keeps them all", &release.Release{Config: deployed}, chartValues, true,
			map[string]any{"ca": map[string]any{"crt": "old crt", "key": "chart's key"}, "replicas": 2}, 0},
		// A release that has any of the kept values is never given new
		// ones (a new trust anchor beside a kept one breaks every proxy):
		// the ones it has are kept, the others are left to the chart.
		{"upgrade with one missing", &release.Release{Config: map[string]any{"ca": map[string]any{"crt": "old crt"}}}, chartValues, true,
			map[string]any{"ca": map[string]any{"crt": "old crt", "key": "chart's key"}, "replicas": 2}, 0},
		{"upgrade with a value where a map is kept", &release.Release{Config: map[string]any{"ca": "flat"}}, chartValues, true,
			map[string]any{"ca": map[string]any{"crt": "new crt", "key": "chart's key", "made": true}, "replicas": 2}, 1},
		{"upgrade without values", &release.Release{}, nil, true,
			map[string]any{"ca": map[string]any{"crt": "new crt", "key": "new key", "made": true}, "replicas": 1}, 1},
		{"nothing to generate", nil, nil, false, map[string]any{}, 0},
		{"kept without Generate", &release.Release{Config: deployed}, nil, false,
			map[string]any{"ca": map[string]any{"crt": "old crt", "key": "old key"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			c := Chart{Release: "r", Namespace: "ns", Values: tc.values, Keep: keep}
			if tc.generate {
				c.Generate = func() (map[string]any, error) {
					calls++
					return MergeValues(generated, nil), nil
				}
			}
			got, err := valuesOf(c, tc.last)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("values %v, want %v", got, tc.want)
			}
			if calls != tc.wantGen {
				t.Errorf("Generate called %d times, want %d", calls, tc.wantGen)
			}
		})
	}
	if !reflect.DeepEqual(chartValues, map[string]any{"ca": map[string]any{"key": "chart's key"}, "replicas": 2}) {
		t.Errorf("the chart's values changed: %v", chartValues)
	}

	failing := Chart{Release: "r", Namespace: "ns", Keep: keep, Generate: func() (map[string]any, error) {
		return nil, meshdock.Errorf(meshdock.EINTERNAL, "no randomness")
	}}
	if _, err := valuesOf(failing, nil); meshdock.ErrorCode(err) != meshdock.EINTERNAL {
		t.Errorf("a failing Generate: got %v", err)
	}
}
