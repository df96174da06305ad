package compose

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/meshdock/meshdock"
)

// PrivateDirPrefix starts the name of every private copy of a project,
// made in the temporary directory. Such a copy may hold another user's
// upload: a server must never read one on anyone's behalf.
const PrivateDirPrefix = "meshdock-src-"

// fileSet is the project directory Load works in: a private copy of an
// in-memory source, or the user's own directory. Reads go through os.Root so
// that neither `..` nor a symbolic link leads out of it.
type fileSet struct {
	dir string   // absolute project directory, as compose-go sees it
	tmp string   // private directory to remove, if any
	r   *os.Root // reads confined to the project
	// mirror is true when r is a caller's folder and dir a private copy of
	// the files read through r so far: compose-go, which reads some files
	// by path, then reads only those copies.
	mirror bool
	// got records every file of the project read so far, by relative name.
	got map[string][]byte
}

// CheckFileName reports whether name is an acceptable relative file name of
// an uploaded project: UTF-8, forward slashes, no absolute path, no `..`, and
// no character that is invisible or reorders text (controls such as DEL, and
// format characters such as bidirectional overrides and zero-width spaces),
// which would let one name pose as another wherever names are shown.
func CheckFileName(name string) error {
	switch {
	case name == "":
		return meshdock.Errorf(meshdock.EINVALID, "a file has no name")
	case len(name) > 255:
		return meshdock.Errorf(meshdock.EINVALID, "file name %.40q... is too long", name)
	case !utf8.ValidString(name):
		return meshdock.Errorf(meshdock.EINVALID, "file name %q is not valid UTF-8", name)
	case strings.ContainsFunc(name, unsafeRune):
		return meshdock.Errorf(meshdock.EINVALID, "file name %+q has a backslash, a control character or an invisible formatting character", name)
	case strings.HasPrefix(name, "/") || filepath.IsAbs(name) || (len(name) > 1 && name[1] == ':'):
		return meshdock.Errorf(meshdock.EINVALID, "file name %q is absolute: use a path relative to the project", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return meshdock.Errorf(meshdock.EINVALID, "file name %q climbs out of the project with ..", name)
		}
	}
	if path.Clean(name) == "." {
		return meshdock.Errorf(meshdock.EINVALID, "file name %q names no file", name)
	}
	return nil
}

// openSource prepares the project directory for src.
func openSource(src Source) (fileSet, error) {
	if src.Root != nil {
		return mirrorSource(src)
	}
	if src.Dir != "" {
		dir, err := filepath.Abs(src.Dir)
		if err != nil {
			return fileSet{}, meshdock.Wrap(meshdock.EINVALID, err, "%s: not a usable directory", src.Dir)
		}
		r, err := os.OpenRoot(dir)
		if err != nil {
			return fileSet{}, meshdock.Wrap(meshdock.EINVALID, err, "%s: cannot open the project directory", src.Dir)
		}
		return fileSet{dir: dir, r: r, got: map[string][]byte{}}, nil
	}
	if len(src.Files) == 0 {
		return fileSet{}, meshdock.Errorf(meshdock.EINVALID, "no files: a project needs at least one compose file")
	}
	if len(src.Files) > MaxFiles {
		return fileSet{}, meshdock.Errorf(meshdock.ETOOLARGE, "%d files: at most %d are accepted", len(src.Files), MaxFiles)
	}
	total, seen := 0, map[string]bool{}
	for _, f := range src.Files {
		if err := CheckFileName(f.Name); err != nil {
			return fileSet{}, err
		}
		clean := path.Clean(f.Name)
		if seen[clean] {
			return fileSet{}, meshdock.Errorf(meshdock.EINVALID, "%s: the same file name is given twice", f.Name)
		}
		seen[clean] = true
		if len(f.Content) > MaxFileSize {
			return fileSet{}, tooLarge(f.Name, len(f.Content), MaxFileSize)
		}
		total += len(f.Content)
	}
	if total > MaxSourceSize {
		return fileSet{}, meshdock.Errorf(meshdock.ETOOLARGE, "the files hold %s together: at most %s are accepted", meshdock.FormatSize(total), meshdock.FormatSize(MaxSourceSize))
	}
	tmp, err := os.MkdirTemp("", PrivateDirPrefix+"*")
	if err != nil {
		return fileSet{}, err
	}
	// The directory's name is the default project name, as for docker compose.
	base := "app"
	for _, n := range []string{src.Name, src.DirName} {
		if n != "" && n != "." && CheckFileName(n) == nil && !strings.Contains(n, "/") {
			base = n
			break
		}
	}
	dir := filepath.Join(tmp, base)
	fsys := fileSet{dir: dir, tmp: tmp, got: map[string][]byte{}}
	if err := os.Mkdir(dir, 0o700); err != nil {
		fsys.close()
		return fileSet{}, err
	}
	for _, f := range src.Files {
		p := filepath.Join(dir, filepath.FromSlash(path.Clean(f.Name)))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			fsys.close()
			return fileSet{}, meshdock.Wrap(meshdock.EINVALID, err, "%s: a file and a directory share this name", f.Name)
		}
		if err := os.WriteFile(p, f.Content, 0o600); err != nil {
			fsys.close()
			return fileSet{}, meshdock.Wrap(meshdock.EINVALID, err, "%s: a file and a directory share this name", f.Name)
		}
	}
	if fsys.r, err = os.OpenRoot(dir); err != nil {
		fsys.close()
		return fileSet{}, err
	}
	return fsys, nil
}

// mirrorSource prepares a private copy, empty at first, of a folder a
// caller opened: files are copied into it as they are read.
func mirrorSource(src Source) (fileSet, error) {
	tmp, err := os.MkdirTemp("", PrivateDirPrefix+"*")
	if err != nil {
		return fileSet{}, err
	}
	// The copy has the folder's name, the default project name.
	dir := filepath.Join(tmp, filepath.Base(filepath.Clean(src.Dir)))
	if err := os.Mkdir(dir, 0o700); err != nil {
		os.RemoveAll(tmp)
		return fileSet{}, err
	}
	return fileSet{dir: dir, tmp: tmp, r: src.Root, mirror: true, got: map[string][]byte{}}, nil
}

func (f fileSet) root() string { return f.dir }

func (f fileSet) close() {
	if f.r != nil && !f.mirror { // a mirrored folder's root is its caller's
		f.r.Close()
	}
	if f.tmp != "" {
		os.RemoveAll(f.tmp)
	}
}

// abs returns the absolute path of a file of the project.
func (f fileSet) abs(name string) string {
	if filepath.IsAbs(name) {
		return filepath.Clean(name)
	}
	return filepath.Join(f.dir, filepath.FromSlash(name))
}

// relativeTo names p relative to root, with forward slashes, when p is
// root or below it by name (links are not followed: see inside).
func relativeTo(root, p string) (string, bool) {
	rel, err := filepath.Rel(root, filepath.Clean(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// inside is the one test of whether a path belongs to the project, made
// by every read of a project's file: p (absolute, or relative to the
// project directory) must not leave the directory by name, and no symbolic
// link on its way may lead out of it, as the project's root resolves them
// (for a caller's folder, the folder itself, not the private copy). A
// path that does not exist yet counts as inside when its name is. It
// returns the name relative to the project.
func (f fileSet) inside(p string) (string, bool) {
	rel, ok := relativeTo(f.dir, f.abs(p))
	if !ok || f.r == nil {
		return "", false
	}
	if rel == "." {
		return rel, true
	}
	_, err := f.r.Stat(filepath.FromSlash(rel))
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		// Links that lead out, and names under a file, are not the
		// project's. A link loop cannot be read either.
		if _, lerr := f.r.Lstat(filepath.FromSlash(rel)); lerr == nil || !errors.Is(lerr, fs.ErrNotExist) {
			return "", false
		}
	}
	return rel, true
}

func (f fileSet) exists(name string) bool {
	if filepath.IsAbs(name) && f.tmp == "" {
		_, err := os.Stat(name)
		return err == nil
	}
	if f.r == nil {
		return false
	}
	st, err := f.r.Stat(filepath.FromSlash(name))
	return err == nil && st.Mode().IsRegular()
}

// read returns a file's content, at most limit bytes. An absolute name is
// allowed for an on-disk project's compose files (the user named them on
// the command line); everything else must be inside the project.
func (f fileSet) read(name string, limit int) ([]byte, error) {
	var (
		file *os.File
		err  error
	)
	if _, in := relativeTo(f.dir, name); filepath.IsAbs(name) && f.tmp == "" && !in {
		file, err = os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	} else {
		rel, ok := f.inside(name)
		if !filepath.IsAbs(name) && CheckFileName(name) != nil {
			ok = false
		}
		if !ok {
			return nil, meshdock.Errorf(meshdock.EINVALID, "%s is outside the project", name)
		}
		// Non-blocking, so that opening a FIFO returns at once (to be
		// refused below) instead of waiting for a writer for ever; reads of
		// regular files are not affected.
		file, err = f.r.OpenFile(filepath.FromSlash(rel), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, meshdock.Errorf(meshdock.EINVALID, "%s: file not found", name)
		}
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "%s: cannot read the file", name)
	}
	defer file.Close()
	// Only regular files: a FIFO would block, a device never end.
	st, err := file.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, meshdock.Errorf(meshdock.EINVALID, "%s is not a regular file", name)
	}
	// A folder of the server read for someone: a hard link there may be
	// another name for a file of the server that its owner could not read.
	if f.mirror && linkCount(st) > 1 {
		return nil, meshdock.Errorf(meshdock.EINVALID, "%s has other names on the disk (hard links): copy the file into the project", name)
	}
	b, err := io.ReadAll(io.LimitReader(file, int64(limit)+1))
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "%s: cannot read the file", name)
	}
	if len(b) > limit {
		return nil, tooLarge(name, -1, limit)
	}
	if rel, ok := relativeTo(f.dir, f.abs(name)); ok {
		f.got[rel] = b
		if f.mirror {
			if err := f.copy(rel, b); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

// copy writes a file read through the caller's folder into the private copy.
func (f fileSet) copy(rel string, b []byte) error {
	p := filepath.Join(f.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return meshdock.Wrap(meshdock.EINVALID, err, "%s: a file and a directory share this name", rel)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return meshdock.Wrap(meshdock.EINVALID, err, "%s: a file and a directory share this name", rel)
	}
	return nil
}

// lexists reports whether a name of the project exists, without following
// a final symbolic link, looked up through the project's root.
func (f fileSet) lexists(rel string) bool {
	if f.r == nil || rel == "" {
		return false
	}
	_, err := f.r.Lstat(filepath.FromSlash(rel))
	return err == nil
}

// unsafeRune reports the runes no shown name may hold: the backslash (a
// path separator elsewhere), controls (Cc: C0, DEL, C1) and format
// characters (Cf: bidirectional controls, zero-width characters, BOM).
func unsafeRune(r rune) bool {
	return r == '\\' || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r)
}

func tooLarge(name string, n, limit int) error {
	if n < 0 {
		return meshdock.Errorf(meshdock.ETOOLARGE, "%s: the file is too large: over the %s limit", name, meshdock.FormatSize(limit))
	}
	return meshdock.Errorf(meshdock.ETOOLARGE, "%s: the file is too large: %s, over the %s limit", name, meshdock.FormatSize(n), meshdock.FormatSize(limit))
}
