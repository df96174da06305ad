package meshes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/downloader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/meshdock/meshdock"
)

// Source is where the charts of an installation come from: by default
// each mesh's Helm repository at the pinned version; Repo replaces every
// mesh's repository (a mirror holding them all); Dirs are folders of chart
// folders, looked up by the name in each Chart.yaml (the istio.io/istio
// module's manifests/charts is one such folder), which take the place of
// any repository. A Source is the server's configuration, never a
// request's: it reads the server's files or reaches the network.
type Source struct {
	Dirs []string
	Repo string
	// Cache is where charts fetched from a repository are kept, by name
	// and version, so an upgrade or a second cluster fetches nothing.
	Cache string
}

// maxChartDepth is how deep under a Dirs folder a chart is looked for.
const maxChartDepth = 3

// Charts resolves the releases of in to charts, with meshdock's values and
// the user's (by release name) over them.
func (s Source) Charts(ctx context.Context, in Installation, user map[string]map[string]any) ([]Chart, error) {
	var local map[string]string
	if len(s.Dirs) > 0 {
		var err error
		if local, err = chartDirs(s.Dirs); err != nil {
			return nil, err
		}
	}
	var out []Chart
	for _, r := range in.Releases {
		c := Chart{Release: r.Name, Namespace: r.Namespace, Values: MergeValues(r.Values, user[r.Name]), Keep: r.Keep, Generate: r.Generate}
		if local != nil {
			p, ok := local[r.Chart]
			if !ok {
				return nil, meshdock.Errorf(meshdock.ENOTFOUND, "chart %s (release %s of %s) is in none of the chart folders", r.Chart, r.Name, in.Mesh)
			}
			c.Path = p
		} else {
			repoURL := in.Repo
			if s.Repo != "" {
				repoURL = s.Repo
			}
			p, err := s.fetch(ctx, repoURL, r.Chart, r.Version)
			if err != nil {
				return nil, err
			}
			c.Path = p
		}
		out = append(out, c)
	}
	return out, nil
}

// chartDirs finds the chart folders under dirs, by chart name; the first
// folder given wins. A chart's own subcharts are not looked into.
func chartDirs(dirs []string) (map[string]string, error) {
	found := map[string]string{}
	for i, dir := range dirs {
		// The folders are the server's configuration: their paths are not
		// for the API's callers.
		info, err := os.Stat(dir)
		if err != nil || !info.IsDir() {
			return nil, meshdock.Errorf(meshdock.ENOTFOUND, "chart folder %d of %d the server was given (--charts) cannot be read", i+1, len(dirs))
		}
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if rel, _ := filepath.Rel(dir, p); rel != "." && strings.Count(rel, string(filepath.Separator)) >= maxChartDepth {
				return fs.SkipDir
			}
			meta, err := chartutil.LoadChartfile(filepath.Join(p, "Chart.yaml"))
			if err != nil {
				return nil
			}
			if _, dup := found[meta.Name]; !dup && meta.Name != "" {
				found[meta.Name] = p
			}
			return fs.SkipDir
		})
		if err != nil {
			return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "chart folder %d of %d the server was given (--charts) cannot be read", i+1, len(dirs))
		}
	}
	return found, nil
}

// fetch downloads one chart version from a repository into the cache, or
// finds it there. Helm's getters take no context: a fetch that outlives
// ctx is left to finish on its own.
func (s Source) fetch(ctx context.Context, repoURL, name, version string) (string, error) {
	cache := s.Cache
	if cache == "" {
		// No cache: a folder of this fetch's own, never a shared one
		// another user could have filled.
		tmp, err := os.MkdirTemp("", "meshdock-charts-")
		if err != nil {
			return "", meshdock.Wrap(meshdock.EINTERNAL, err, "chart cache: %v", err)
		}
		cache = tmp
	}
	sum := sha256.Sum256([]byte(repoURL))
	cache = filepath.Join(cache, hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return "", meshdock.Wrap(meshdock.EINTERNAL, err, "chart cache: %v", err)
	}
	if err := privateDir(cache); err != nil {
		return "", err
	}
	if p := filepath.Join(cache, name+"-"+version+".tgz"); fileExists(p) {
		return p, nil
	}
	type result struct {
		path string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		p, err := download(repoURL, name, version, cache)
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return "", meshdock.Wrap(meshdock.EUNAVAILABLE, r.err, "chart %s %s cannot be fetched from %s: %v", name, version, repoURL, r.err)
		}
		return r.path, nil
	case <-ctx.Done():
		// Out of time is the repository's slowness, as ctxError has it;
		// only a cancellation is the caller's.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", meshdock.Wrap(meshdock.EUNAVAILABLE, ctx.Err(), "chart %s %s cannot be fetched from %s in time", name, version, repoURL)
		}
		return "", meshdock.Wrap(meshdock.ECANCELED, ctx.Err(), "fetching chart %s %s from %s: %v", name, version, repoURL, ctx.Err())
	}
}

func download(repoURL, name, version, dest string) (string, error) {
	tmp, err := os.MkdirTemp(dest, ".fetch-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	settings := cli.New()
	// No getter plugins of the user's Helm: only Helm's own HTTP(S) getter.
	settings.PluginsDirectory = filepath.Join(tmp, "no-plugins")
	settings.RepositoryCache = filepath.Join(tmp, "index")
	settings.RepositoryConfig = filepath.Join(tmp, "repositories.yaml")
	getters := getter.All(settings)
	chartURL, err := findChart(repoURL, name, version, settings.RepositoryCache, getters)
	if err != nil {
		return "", err
	}
	dl := downloader.ChartDownloader{
		Out:              io.Discard,
		Getters:          getters,
		Verify:           downloader.VerifyNever,
		RepositoryConfig: settings.RepositoryConfig,
		RepositoryCache:  settings.RepositoryCache,
		Options:          []getter.Option{getter.WithBasicAuth("", "")},
	}
	file, _, err := dl.DownloadTo(chartURL, version, tmp)
	if err != nil {
		return "", err
	}
	final := filepath.Join(dest, name+"-"+version+".tgz")
	if err := os.Rename(file, final); err != nil {
		return "", err
	}
	return final, nil
}

// findChart is the URL of a chart version in a repository's index, as
// repo.FindChartInRepoURL finds it, but with the index written into cache:
// Helm's own writes it into the user's Helm cache, which is not the
// Source's and may not be writable at all.
func findChart(repoURL, name, version, cache string, getters getter.Providers) (string, error) {
	r, err := repo.NewChartRepository(&repo.Entry{Name: "meshdock", URL: repoURL}, getters)
	if err != nil {
		return "", err
	}
	r.CachePath = cache
	file, err := r.DownloadIndexFile()
	if err != nil {
		return "", fmt.Errorf("its index cannot be read: %w", err)
	}
	index, err := repo.LoadIndexFile(file)
	if err != nil {
		return "", fmt.Errorf("its index cannot be read: %w", err)
	}
	cv, err := index.Get(name, version)
	if err != nil {
		return "", fmt.Errorf("the repository has no chart %s version %s", name, version)
	}
	if len(cv.URLs) == 0 {
		return "", fmt.Errorf("chart %s version %s has no URL in the repository's index", name, version)
	}
	return repo.ResolveReferenceURL(repoURL, cv.URLs[0])
}

// privateDir refuses a cache folder others may write to, or that another
// user owns: a chart put there would be installed with the server's
// credentials.
func privateDir(dir string) error {
	for _, d := range []string{filepath.Dir(dir), dir} {
		info, err := os.Lstat(d)
		if err != nil {
			return meshdock.Wrap(meshdock.EINTERNAL, err, "chart cache: %v", err)
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
			return meshdock.Errorf(meshdock.EFORBIDDEN, "the chart cache belongs to another user: charts are not fetched into it")
		}
		if !info.IsDir() || info.Mode().Perm()&0o022 != 0 {
			return meshdock.Errorf(meshdock.EFORBIDDEN, "the chart cache may be written by other users (or is not a folder): charts are not fetched into it")
		}
	}
	return nil
}

func fileExists(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.Mode().IsRegular()
}
