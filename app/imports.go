package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
	"github.com/meshdock/meshdock/dirguard"
	"github.com/meshdock/meshdock/engine"
	"github.com/meshdock/meshdock/store"
)

// ImportRequest is an import: where the compose app comes from (files in
// Source, a folder Dir of this machine, or the compose project named
// Project that the Docker Engine runs) and how to convert it.
type ImportRequest struct {
	// Source holds the uploaded files, or for a folder or a project the
	// project name, env and profiles asked for.
	Source  compose.Source
	Dir     string
	Project string
	// Unread says why the client could not read the project's files where
	// it runs (its own words, for the warning of a rebuilt app).
	Unread  string
	Options convert.Options
	// AllowDir permits reading this machine's disk: a folder, or a
	// compose project's files at the paths its labels record.
	AllowDir bool
}

// Import converts the app a request describes and stores it with its
// source and result. Nothing is stored unless the conversion succeeds.
//
// At most Limits.Imports imports run at once: one more is refused as busy
// at once rather than queued. Each has Limits.ImportTimeout to finish; at
// the deadline the client is answered even if a step that cannot be
// interrupted (compose-go, kompose) is still running. That step keeps its
// slot until it ends, since it still costs what a slot stands for, and
// whatever it makes is thrown away.
func (s *Service) Import(ctx context.Context, req ImportRequest) (*store.App, error) {
	select {
	case s.imports <- struct{}{}:
	default:
		return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "busy: too many imports at once (%d run at a time), try again", s.limits.Imports)
	}
	ictx, cancel := context.WithTimeout(ctx, s.limits.ImportTimeout)
	done := make(chan importResult, 1)
	go func() {
		defer func() { <-s.imports }()
		defer cancel()
		app, err := s.importApp(ictx, req)
		done <- importResult{app, err}
	}()
	var r importResult
	select {
	case r = <-done:
	case <-ictx.Done():
		select {
		case r = <-done: // it ended as the time ran out
		default:
			go s.discardLate(done, req)
			r.err = ictx.Err()
		}
	}
	if r.err != nil && ctx.Err() == nil && errors.Is(ictx.Err(), context.DeadlineExceeded) {
		// Whatever the step that noticed it made of the deadline, the
		// cause is the time, and it is the server's to report.
		s.log.Warn("import timed out", "timeout", s.limits.ImportTimeout, "name", req.Source.Name, "dir", req.Dir, "project", req.Project, "err", r.err)
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, r.err, "the import did not finish within %s: the server is busy or the project is too large; try again later", s.limits.ImportTimeout)
	}
	return r.app, r.err
}

type importResult struct {
	app *store.App
	err error
}

// discardLate waits for an import whose client was told it timed out and
// removes what it stored, if it got that far before noticing.
func (s *Service) discardLate(done <-chan importResult, req ImportRequest) {
	r := <-done
	if r.err != nil || r.app == nil {
		return
	}
	s.log.Warn("an import that timed out finished late; its app is removed", "id", r.app.ID, "name", req.Source.Name)
	if err := s.store.DeleteApp(context.Background(), r.app.ID); err != nil {
		s.log.Error("cannot remove a late import", "id", r.app.ID, "err", err)
	}
}

func (s *Service) importApp(ctx context.Context, req ImportRequest) (*store.App, error) {
	src, loaded, origin, warnings, err := s.importSource(ctx, req)
	if err != nil {
		return nil, err
	}
	if loaded == nil {
		if loaded, err = compose.Load(ctx, src); err != nil {
			return nil, err
		}
	}
	res, err := convert.Convert(ctx, loaded, req.Options)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(warnings, res.Warnings...)
	app := storedApp(origin, src, req.Options, res)
	if err := s.store.CreateApp(ctx, app); err != nil {
		return nil, err
	}
	return app, nil
}

// storedApp is what the store keeps of an import: the source it came from,
// the options and the result of converting it.
func storedApp(origin store.Origin, src compose.Source, opt convert.Options, res *convert.Result) *store.App {
	a := &store.App{Name: res.Project, Origin: origin, Project: src.Name, ComposeFiles: src.ComposeFiles, EnvFiles: src.EnvFiles,
		Env: src.Env, Profiles: src.Profiles, Namespace: opt.Namespace, BindMounts: string(opt.BindMounts),
		Objects: res.Objects, Warnings: res.Warnings, Graph: res.Graph, Builds: res.Builds}
	for _, f := range src.Files {
		a.Files = append(a.Files, store.File{Name: f.Name, Content: f.Content})
	}
	return a
}

// importSource gathers the in-memory source of an import, and the project
// loaded from it when gathering it took a load (a folder's snapshot).
func (s *Service) importSource(ctx context.Context, req ImportRequest) (compose.Source, *compose.Project, store.Origin, []meshdock.Warning, error) {
	switch {
	case req.Dir != "":
		if !req.AllowDir {
			return compose.Source{}, nil, "", nil, meshdock.Errorf(meshdock.EFORBIDDEN,
				"importing a directory of the server is not allowed here (start meshdock serve with --allow-dir on a loopback address)")
		}
		p, src, err := s.readDir(ctx, req.Dir, req.Source)
		return src, p, store.OriginDir, nil, err
	case req.Project != "":
		return s.projectSource(ctx, req)
	}
	return req.Source, nil, store.OriginFiles, nil, nil
}

// projectSource finds a running compose project's source: its own files
// when they can be read where its labels say they are, else a compose file
// rebuilt from its containers.
func (s *Service) projectSource(ctx context.Context, req ImportRequest) (compose.Source, *compose.Project, store.Origin, []meshdock.Warning, error) {
	projects, err := s.engine.Projects(ctx)
	if err != nil {
		return compose.Source{}, nil, "", nil, err
	}
	var proj *engine.Project
	for i := range projects {
		if projects[i].Name == req.Project {
			proj = &projects[i]
		}
	}
	if proj == nil {
		return compose.Source{}, nil, "", nil, meshdock.Errorf(meshdock.ENOTFOUND, "no compose project named %s: the Docker Engine has no containers of it", meshdock.QuoteName(req.Project))
	}
	if len(req.Source.Files) > 0 {
		return s.givenProjectFiles(ctx, proj, req.Source)
	}
	var why string
	switch {
	case req.Unread != "":
		why = "they could not be read where it runs, which said " + meshdock.Quote(req.Unread, 500)
	case !req.AllowDir:
		why = "this server does not read its disk"
	case proj.Disputed:
		why = "its containers name different folders or files, so which are its own cannot be told"
	case len(proj.ConfigFiles) == 0 || proj.WorkingDir == "":
		why = "its containers do not record the compose files"
	default:
		p, src, err := s.projectFiles(ctx, proj, req)
		if err == nil {
			return src, p, store.OriginProject, nil, nil
		}
		why = meshdock.ErrorMessage(err)
	}
	files, warnings, err := s.engine.Rebuild(ctx, proj.Name)
	if err != nil {
		return compose.Source{}, nil, "", nil, err
	}
	warnings = append([]meshdock.Warning{{Message: fmt.Sprintf("the compose files of %s were not used (%s): the app was rebuilt from its containers", meshdock.QuoteName(proj.Name), why)}}, warnings...)
	src := compose.Source{Name: proj.Name, Files: files, Env: req.Source.Env}
	return src, nil, store.OriginRebuilt, warnings, nil
}

// projectFiles reads a project's compose files (and .env or the env files
// compose recorded) from its working directory, under the same rule as a
// folder import: the labels are anyone's to write, and a working directory
// of / must not open the server's disk. It loads the project once.
func (s *Service) projectFiles(ctx context.Context, proj *engine.Project, req ImportRequest) (*compose.Project, compose.Source, error) {
	root, dir, err := s.guarded.Open(proj.WorkingDir)
	if err != nil {
		return nil, compose.Source{}, err
	}
	defer root.Close()
	src := compose.Source{Name: proj.Name, Env: req.Source.Env, Profiles: req.Source.Profiles}
	for _, list := range []struct {
		from []string
		to   *[]string
	}{{proj.ConfigFiles, &src.ComposeFiles}, {proj.EnvFiles, &src.EnvFiles}} {
		for _, f := range list.from {
			// The labels name the files under the working directory as
			// compose saw it, before its links are resolved.
			r := dirguard.Rel(proj.WorkingDir, f)
			if r == "" {
				return nil, compose.Source{}, meshdock.Errorf(meshdock.EINVALID, "%s is outside the working directory %s", meshdock.QuotePath(f), meshdock.QuotePath(proj.WorkingDir))
			}
			if _, err := root.Stat(filepath.FromSlash(r)); err != nil {
				return nil, compose.Source{}, meshdock.Errorf(meshdock.EINVALID, "%s cannot be read", meshdock.QuotePath(f))
			}
			*list.to = append(*list.to, r)
		}
	}
	snap := func(ctx context.Context, src compose.Source) (*compose.Project, compose.Source, error) {
		return s.snapshot(ctx, root, dir, proj.WorkingDir, src)
	}
	if len(src.Profiles) > 0 {
		return snap(ctx, src)
	}
	return compose.LoadRunning(ctx, src, proj.ServiceNames(), snap)
}

// givenProjectFiles loads a project's files as the client read them where
// the project runs (Docker Desktop's host, which the server in its
// container cannot see), with the profiles it runs under unless some are
// asked for.
func (s *Service) givenProjectFiles(ctx context.Context, proj *engine.Project, src compose.Source) (compose.Source, *compose.Project, store.Origin, []meshdock.Warning, error) {
	src.Name = proj.Name
	var p *compose.Project
	var err error
	if len(src.Profiles) > 0 {
		p, err = compose.Load(ctx, src)
	} else {
		p, src, err = compose.LoadRunning(ctx, src, proj.ServiceNames(), compose.LoadOnly)
	}
	if err != nil {
		return compose.Source{}, nil, "", nil, err
	}
	return src, p, store.OriginProject, nil, nil
}

// ImportIfEmpty imports the compose app in dir when the store has no app
// yet, so that a first start shows something. It reports whether it did.
func (s *Service) ImportIfEmpty(ctx context.Context, dir string) (bool, error) {
	apps, err := s.store.Apps(ctx)
	if err != nil || len(apps) > 0 {
		return false, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false, err
	}
	app, err := s.Import(ctx, ImportRequest{Dir: abs, AllowDir: true})
	if err != nil {
		return false, meshdock.Wrap(meshdock.ErrorCode(err), err, "import %s: %s", dir, meshdock.ErrorMessage(err))
	}
	s.log.Info("imported an app into the empty store", "name", app.Name, "id", app.ID, "dir", dir)
	return true, nil
}

// Convert loads a compose project and converts it, keeping nothing: the
// command line's convert and deploy.
func Convert(ctx context.Context, src compose.Source, opt convert.Options) (*convert.Result, error) {
	p, err := compose.Load(ctx, src)
	if err != nil {
		return nil, err
	}
	return convert.Convert(ctx, p, opt)
}
