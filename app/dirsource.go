package app

import (
	"context"
	"os"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
)

// readDir turns a project directory into an in-memory source: a copy of
// every file of the project that loading it reads (compose.Snapshot), and
// nothing outside dir. The app keeps these copies, so it does not change when
// the directory does. An app from a folder has the same bounds as an upload.
func (s *Service) readDir(ctx context.Context, dir string, src compose.Source) (*compose.Project, compose.Source, error) {
	root, real, err := s.guarded.Open(dir)
	if err != nil {
		return nil, compose.Source{}, err
	}
	defer root.Close()
	return s.snapshot(ctx, root, real, dir, src)
}

// snapshot loads the project in an opened folder (see readDir), and
// returns it with its in-memory copy.
func (s *Service) snapshot(ctx context.Context, root *os.Root, real, dir string, src compose.Source) (*compose.Project, compose.Source, error) {
	src.Dir, src.Root = real, root
	p, out, err := compose.Snapshot(ctx, src)
	if err != nil {
		return nil, compose.Source{}, err
	}
	lim := s.limits
	if len(out.Files) > lim.Files {
		return nil, compose.Source{}, meshdock.Errorf(meshdock.ETOOLARGE, "%s: the project names %d files, at most %d are accepted", dir, len(out.Files), lim.Files)
	}
	total := int64(0)
	for _, f := range out.Files {
		if int64(len(f.Content)) > int64(lim.FileSize) {
			return nil, compose.Source{}, meshdock.Errorf(meshdock.ETOOLARGE, "%s is over %s: at most %s per file", f.Name, meshdock.FormatSize(lim.FileSize), meshdock.FormatSize(lim.FileSize))
		}
		if total += int64(len(f.Content)); total > lim.Total {
			return nil, compose.Source{}, meshdock.Errorf(meshdock.ETOOLARGE, "%s: the project's files are over %s together", dir, meshdock.FormatSize(int(lim.Total)))
		}
	}
	return p, out, nil
}
