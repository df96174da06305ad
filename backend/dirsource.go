package backend

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/convert"
)

// systemDirs hold the machine's own configuration, devices and processes,
// never a compose project: a folder import reads none of them nor anything
// inside them.
var systemDirs = []string{"/proc", "/sys", "/dev", "/etc", "/run", "/boot", "/var/run", "/root"}

// guardedDirs are the folders of the server's disk a folder import must
// not reach, each with both its spelling and its real path (symbolic links
// resolved), since a folder is compared once its own links are resolved.
type guardedDirs struct {
	system []string // refused, and everything inside them
	data   []string // refused, everything inside and every folder above
	home   []string // refused, and every folder above (inside is fine)
}

func newGuardedDirs(dataDir, home string) guardedDirs {
	var g guardedDirs
	both := func(p string) []string {
		if p == "" {
			return nil
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil
		}
		out := []string{abs}
		if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
			out = append(out, real)
		}
		return out
	}
	homes := both(home)
	for _, d := range systemDirs {
		// The server's own home is the user's, even when it is /root: the
		// rule for homes applies to it instead.
		if d == "/root" && len(homes) > 0 && (homes[0] == d || homes[len(homes)-1] == d) {
			continue
		}
		g.system = append(g.system, both(d)...)
	}
	g.data, g.home = both(dataDir), homes
	// Private copies of uploads are made in the temporary directory: it is
	// guarded like a home, so no folder import reads another's upload.
	g.home = append(g.home, both(os.TempDir())...)
	return g
}

// projectDir vets a folder of the server's disk that an import is to read
// and returns its real path, which is what must be read. It must exist and
// be a directory, and be none of the folders a project never is: the root
// of the disk, a system directory, the server's data directory or a folder
// around it, the server's home or a folder above it. Messages name only
// the folder the user gave.
func (s *Server) projectDir(dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", meshdock.Errorf(meshdock.EINVALID, "dir %s must be an absolute path", quotePath(dir))
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(dir))
	if err != nil {
		return "", meshdock.Wrap(meshdock.EINVALID, err, "dir %s does not exist or cannot be read", quotePath(dir))
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		return "", meshdock.Errorf(meshdock.EINVALID, "dir %s is not a directory", quotePath(dir))
	}
	refuse := func(why string) error {
		return meshdock.Errorf(meshdock.EFORBIDDEN, "dir %s is refused: %s; name the folder of a compose project", quotePath(dir), why)
	}
	if real == "/" {
		return "", refuse("it is the root of the disk")
	}
	for _, d := range s.guarded.system {
		if within(d, real) {
			return "", refuse("system folders are never read")
		}
	}
	for _, d := range s.guarded.data {
		if within(d, real) || within(real, d) {
			return "", refuse("it is, holds or is inside the server's data directory")
		}
	}
	for _, d := range s.guarded.home {
		if within(real, d) {
			return "", refuse("it is or holds the server's home or temporary directory")
		}
	}
	return real, nil
}

// readDir turns a project directory into an in-memory source: a copy of
// every file of the project that loading it reads (convert.Snapshot), and
// nothing outside dir. The app keeps these copies, so it does not change when
// the directory does. An app from a folder has the same bounds as an upload.
func (s *Server) readDir(ctx context.Context, dir string, src convert.Source) (convert.Source, error) {
	real, err := s.projectDir(dir)
	if err != nil {
		return convert.Source{}, err
	}
	src.Dir = real
	out, err := convert.Snapshot(ctx, src)
	if err != nil {
		return convert.Source{}, err
	}
	lim := s.limits
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

// within reports whether p is dir or inside it.
func within(dir, p string) bool {
	return filepath.Clean(dir) == filepath.Clean(p) || rel(dir, p) != ""
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
