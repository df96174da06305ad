package engine

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/meshdock/meshdock"
)

// MaxContextSize bounds the files of one build context. The engine keeps
// a copy of the context for the build: a context this large is a
// directory that should have been in .dockerignore.
const MaxContextSize = 1 << 30

// writeContext writes the build context as a tar stream, as the docker
// CLI sends it: the files .dockerignore does not exclude, owned by root;
// the Dockerfile and .dockerignore themselves always go, since the engine
// reads them. Only regular files and directories are sent: a symbolic
// link could name anything on the machine that reads it.
func writeContext(w io.Writer, fsys fs.FS, tag, dockerfile string) error {
	pm, err := readIgnore(fsys, tag)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	var size int64
	matched := map[string]patternmatcher.MatchInfo{} // by directory
	err = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return contextError(tag, name, err)
		}
		if name == "." {
			return nil
		}
		if pm != nil && name != dockerfile && name != ".dockerignore" {
			skip, info, err := pm.MatchesUsingParentResults(filepath.FromSlash(name), matched[path.Dir(name)])
			if err != nil {
				return meshdock.Wrap(meshdock.EINVALID, err, "build context of %s: .dockerignore: %v", tag, err)
			}
			if d.IsDir() {
				matched[name] = info
			}
			if skip {
				if d.IsDir() && !mayReinclude(pm, name) && !strings.HasPrefix(dockerfile, name+"/") {
					return fs.SkipDir
				}
				// An excluded directory whose files a "!" pattern may
				// bring back, or that holds the Dockerfile: walk it, send
				// only those.
				return nil
			}
		}
		fi, err := d.Info()
		if err != nil {
			return contextError(tag, name, err)
		}
		switch mode := fi.Mode(); {
		case mode.IsDir(), mode.IsRegular():
		case mode&fs.ModeSymlink != 0:
			return meshdock.Errorf(meshdock.EINVALID, "build context of %s: %s is a symbolic link; meshdock sends only regular files and directories (list it in .dockerignore, or copy what it names)", tag, name)
		default:
			return meshdock.Errorf(meshdock.EINVALID, "build context of %s: %s is not a regular file or directory (%s)", tag, name, mode.Type())
		}
		if fi.Mode().IsRegular() {
			size += fi.Size()
			if size > MaxContextSize {
				return meshdock.Errorf(meshdock.ETOOLARGE, "build context of %s is over %s (at %s): list what the image does not need in .dockerignore", tag, meshdock.FormatSize(MaxContextSize), name)
			}
		}
		return writeEntry(tw, fsys, tag, name, fi)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// readIgnore reads the context's .dockerignore; nil when there is none.
func readIgnore(fsys fs.FS, tag string) (*patternmatcher.PatternMatcher, error) {
	f, err := fsys.Open(".dockerignore")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, contextError(tag, ".dockerignore", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, contextError(tag, ".dockerignore", err)
	}
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "build context of %s: .dockerignore: %v", tag, err)
	}
	return pm, nil
}

// mayReinclude reports whether an exclusion pattern ("!dir/file") may
// match below the excluded directory dir, as the docker CLI decides it;
// a pattern that starts with a wildcard may match anywhere.
func mayReinclude(pm *patternmatcher.PatternMatcher, dir string) bool {
	if !pm.Exclusions() {
		return false
	}
	prefix := filepath.FromSlash(dir) + string(filepath.Separator)
	for _, p := range pm.Patterns() {
		pat := p.String()
		if p.Exclusion() && (strings.HasPrefix(pat+string(filepath.Separator), prefix) || strings.ContainsAny(pat[:1], "*?[")) {
			return true
		}
	}
	return false
}

// writeEntry writes one file or directory of the context.
func writeEntry(tw *tar.Writer, fsys fs.FS, tag, name string, fi fs.FileInfo) error {
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(fi.Mode().Perm()),
		ModTime: fi.ModTime(),
		Format:  tar.FormatPAX,
	}
	if hdr.ModTime.IsZero() || hdr.ModTime.Before(time.Unix(0, 0)) {
		hdr.ModTime = time.Unix(0, 0) // files in memory have no time
	}
	if fi.IsDir() {
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		if hdr.Mode == 0 {
			hdr.Mode = 0o755 // files in memory have no mode
		}
		return tw.WriteHeader(hdr)
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
	if hdr.Mode == 0 {
		hdr.Mode = 0o644
	}
	f, err := fsys.Open(name)
	if err != nil {
		return contextError(tag, name, err)
	}
	defer f.Close()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// Exactly the size the header gives: a file that grows or shrinks
	// while it is sent fails rather than breaks the stream.
	r := &errReader{r: f}
	if n, err := io.CopyN(tw, r, hdr.Size); err != nil {
		switch {
		case r.err != nil:
			return contextError(tag, name, r.err)
		case n < hdr.Size && errors.Is(err, io.EOF):
			return meshdock.Errorf(meshdock.ECONFLICT, "build context of %s: %s changed while it was read", tag, name)
		}
		return err // the request no longer reads the context
	}
	return nil
}

// contextError reports a file of the context that cannot be read, by its
// path in the context: the error's own path may be the machine's.
func contextError(tag, name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return meshdock.Wrap(meshdock.EINVALID, err, "build context of %s: cannot read %s: %v", tag, name, err)
}
