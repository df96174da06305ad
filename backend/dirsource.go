package backend

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/convert"
)

// readDir turns a project directory into an in-memory source: a copy of
// every file of the project that loading it reads (convert.Snapshot), and
// nothing outside dir. The app keeps these copies, so it does not change when
// the directory does. An app from a folder has the same bounds as an upload.
func readDir(ctx context.Context, dir string, src convert.Source, lim Limits) (convert.Source, error) {
	src.Dir = dir
	out, err := convert.Snapshot(ctx, src)
	if err != nil {
		return convert.Source{}, err
	}
	if len(out.Files) > lim.Files {
		return convert.Source{}, meshdock.Errorf(meshdock.ETOOLARGE, "%s: the project names %d files, at most %d are accepted", dir, len(out.Files), lim.Files)
	}
	total := int64(0)
	for _, f := range out.Files {
		if int64(len(f.Content)) > int64(lim.FileSize) {
			return convert.Source{}, meshdock.Errorf(meshdock.ETOOLARGE, "%s is over %s: at most %s per file", f.Name, size(int64(lim.FileSize)), size(int64(lim.FileSize)))
		}
		if total += int64(len(f.Content)); total > lim.Body {
			return convert.Source{}, meshdock.Errorf(meshdock.ETOOLARGE, "%s: the project's files are over %s together", dir, size(lim.Body))
		}
	}
	return out, nil
}

// rel returns p relative to dir with forward slashes, or "" when p is not
// inside dir (or is empty).
func rel(dir, p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	r, err := filepath.Rel(dir, p)
	if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(r)
}
