// Package dirguard keeps folder imports to the folders of compose
// projects: a folder named by a user, or by a running project's labels
// (anyone's to write), is opened only when it is a local folder that is not
// the root of a disk, a system folder, a data, home or temporary directory
// or above one, and is read only through the root it was opened as.
package dirguard

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
)

// folder is a directory known by its path and, when it exists, by its
// identity on disk: a bind mount of /etc at another path is still /etc.
type folder struct {
	path string
	fi   os.FileInfo // nil when it cannot be read
}

func folderOf(p string) folder {
	f := folder{path: filepath.Clean(p)}
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		f.fi = fi
	}
	return f
}

func (f folder) is(g folder) bool {
	return f.path == g.path || f.fi != nil && g.fi != nil && os.SameFile(f.fi, g.fi)
}

// chain returns p and every folder above it, up to /.
func chain(p string) []folder {
	var out []folder
	for p = filepath.Clean(p); ; p = filepath.Dir(p) {
		out = append(out, folderOf(p))
		if p == filepath.Dir(p) {
			return out
		}
	}
}

// Guard knows the folders of a machine's disk a folder import must not
// reach, by their spelling and by their real path (links resolved), since
// a folder is compared once its own links are resolved.
type Guard struct {
	// whose names the owner of the data and home directories in messages.
	whose  string
	root   folder
	system []folder // refused, and everything inside them
	data   []folder // refused, and everything inside them
	// aboveData and aboveHome are the data directory, the home and the
	// temporary directory and every folder above them: refused.
	aboveData, aboveHome []folder
	// temp are the spellings of the temporary directory, where the
	// converter keeps private copies of uploads: those and what is in them
	// are refused.
	temp []string
}

// New returns the guard of this machine's disk for a process whose data
// directory (none when empty) and home are these; whose names their owner
// in messages ("the server's", "your").
func New(dataDir, home, whose string) Guard {
	g := Guard{root: folderOf(string(filepath.Separator)), whose: whose}
	spellings := func(p string) []string {
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
	homes := spellings(home)
	for _, d := range systemDirs() {
		// The server's own home is the user's, even when it is /root: the
		// rule for homes applies to it instead.
		if d == "/root" && slices.Contains(homes, d) {
			continue
		}
		for _, p := range spellings(d) {
			g.system = append(g.system, folderOf(p))
		}
	}
	for _, p := range spellings(dataDir) {
		g.data = append(g.data, folderOf(p))
		g.aboveData = append(g.aboveData, chain(p)...)
	}
	// Private copies of uploads are made in the temporary directory: it is
	// guarded like a home, so no folder import reads another's upload.
	g.temp = spellings(os.TempDir())
	for _, p := range append(homes, g.temp...) {
		g.aboveHome = append(g.aboveHome, chain(p)...)
	}
	return g
}

// Check vets a folder that an import is to read and returns its real path,
// which is what must be read. It must exist and be a directory on a local
// disk, and be none of the folders a project never is: the root of a disk,
// a system directory or a folder in one, the data directory or a folder in
// or above it, the home or temporary directory or a folder above them.
// Folders are compared by path and by identity, so that a bind mount does
// not hide one. Messages name only the folder the user gave.
func (g Guard) Check(dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", meshdock.Errorf(meshdock.EINVALID, "dir %s must be an absolute path", meshdock.QuotePath(dir))
	}
	// Before anything touches the path: opening one may reach a server.
	if err := local(dir); err != nil {
		return "", meshdock.Errorf(meshdock.EFORBIDDEN, "dir %s is refused: %v; name the folder of a compose project", meshdock.QuotePath(dir), err)
	}
	if remote(filepath.Clean(dir)) {
		return "", meshdock.Errorf(meshdock.EFORBIDDEN, "dir %s is refused: folders of network mounts are never read; name the folder of a compose project", meshdock.QuotePath(dir))
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(dir))
	if err != nil {
		return "", meshdock.Wrap(meshdock.EINVALID, err, "dir %s does not exist or cannot be read", meshdock.QuotePath(dir))
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		return "", meshdock.Errorf(meshdock.EINVALID, "dir %s is not a directory", meshdock.QuotePath(dir))
	}
	refuse := func(why string) error {
		return meshdock.Errorf(meshdock.EFORBIDDEN, "dir %s is refused: %s; name the folder of a compose project", meshdock.QuotePath(dir), why)
	}
	here := chain(real)
	if len(here) == 1 || here[0].is(g.root) {
		return "", refuse("it is the root of the disk")
	}
	// here[len(here)-1] is /: everything is inside it.
	for _, f := range here[:len(here)-1] {
		for _, d := range g.system {
			if f.is(d) {
				return "", refuse("system folders are never read")
			}
		}
		if remote(f.path) {
			return "", refuse("folders of network mounts are never read")
		}
		for _, d := range g.data {
			if f.is(d) {
				return "", refuse("it is or is inside " + g.whose + " data directory")
			}
		}
		if strings.HasPrefix(filepath.Base(f.path), compose.PrivateDirPrefix) && slices.Contains(g.temp, filepath.Dir(f.path)) {
			return "", refuse("it is or is inside a private copy of an upload")
		}
	}
	for _, d := range g.aboveData {
		if here[0].is(d) {
			return "", refuse("it holds " + g.whose + " data directory")
		}
	}
	for _, d := range g.aboveHome {
		if here[0].is(d) {
			return "", refuse("it is or holds " + g.whose + " home or temporary directory")
		}
	}
	return real, nil
}

// Open opens a folder an import is to read and vets the folder it
// opened: every read then goes through the returned root, so a folder
// swapped for a link once vetted is never read. It returns the folder's
// real path too; the caller closes the root.
func (g Guard) Open(dir string) (*os.Root, string, error) {
	real, err := g.Check(dir)
	if err != nil {
		return nil, "", err
	}
	root, err := os.OpenRoot(real)
	if err != nil {
		return nil, "", meshdock.Wrap(meshdock.EINVALID, err, "dir %s cannot be opened", meshdock.QuotePath(dir))
	}
	// What was opened must be what is vetted now: a directory has one
	// place, so if the folder at the vetted path is the opened one, the
	// opened one is where the rules allow.
	opened, err := root.Stat(".")
	if err == nil {
		var again string
		if again, err = g.Check(dir); err == nil {
			var now os.FileInfo
			if now, err = os.Stat(again); err == nil && !os.SameFile(now, opened) {
				err = meshdock.Errorf(meshdock.ECONFLICT, "dir %s changed while it was opened; try again", meshdock.QuotePath(dir))
			}
			real = again
		}
	}
	if err != nil {
		root.Close()
		if meshdock.ErrorCode(err) == meshdock.EINTERNAL {
			err = meshdock.Wrap(meshdock.EINVALID, err, "dir %s cannot be read", meshdock.QuotePath(dir))
		}
		return nil, "", err
	}
	return root, real, nil
}

// Rel returns p (absolute, or relative to dir) relative to dir with
// forward slashes, or "" when p is not inside dir (or is empty).
func Rel(dir, p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	r, err := filepath.Rel(dir, p)
	if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
		return ""
	}
	return filepath.ToSlash(r)
}
