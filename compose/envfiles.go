package compose

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/meshdock/meshdock"
)

// resolveFiles merges env_file and label_file into each service's (and
// pre_start hook's) environment and labels, as compose-go's
// WithServicesEnvironmentResolved and WithServicesLabelsResolved do, but
// reading the files through the project directory: compose-go opens the
// paths itself, so a hostile project could make it read any file of the
// converting machine (or /dev/zero). Here each file must be a regular file
// inside the project, within the size limit.
func (p *Project) resolveFiles(project *types.Project, files fileSet, b *budget) error {
	for _, name := range project.ServiceNames() {
		s := project.Services[name]
		key := p.loc.sectionOf(name) + "." + name
		if err := p.resolveSpec(&s.ContainerSpec, key, project.Environment, files, b); err != nil {
			return err
		}
		for j := range s.PreStart {
			if err := p.resolveSpec(&s.PreStart[j].ContainerSpec, fmt.Sprintf("%s.pre_start.%d", key, j), project.Environment, files, b); err != nil {
				return err
			}
		}
		project.Services[name] = s
	}
	return nil
}

func (p *Project) resolveSpec(spec *types.ContainerSpec, key string, projectEnv types.Mapping, files fileSet, bud *budget) error {
	spec.Environment = spec.Environment.Resolve(projectEnv.Resolve)
	fromFiles := types.Mapping{}
	for _, ef := range spec.EnvFiles {
		b, err := p.readListedFile(key+".env_file", ef.Path, bool(ef.Required), files)
		if err != nil {
			return err
		}
		if b == nil {
			continue // optional and missing
		}
		lookup := func(k string) (string, bool) {
			// The project's variables first, then the service's own.
			if v, ok := projectEnv.Resolve(k); ok {
				return v, true
			}
			if v, ok := spec.Environment[k]; ok && v != nil {
				return *v, true
			}
			return "", false
		}
		if err := bud.charge(envFileBound(b, func(k string) string { v, _ := lookup(k); return v })); err != nil {
			return p.fileError(key+".env_file", err)
		}
		if err := dotenv.ParseWithFormat(bytes.NewReader(b), shownName(files.root(), ef.Path), fromFiles, lookup, ef.Format); err != nil {
			return p.fileError(key+".env_file", err)
		}
	}
	if len(spec.EnvFiles) > 0 {
		spec.Environment = fromFiles.ToMappingWithEquals().OverrideBy(spec.Environment)
		spec.EnvFiles = nil
	}
	if len(spec.LabelFiles) > 0 {
		labels := types.Mapping{}
		for _, lf := range spec.LabelFiles {
			b, err := p.readListedFile(key+".label_file", lf, true, files)
			if err != nil {
				return err
			}
			lookup := func(k string) (string, bool) { v, ok := labels[k]; return v, ok }
			if err := bud.charge(envFileBound(b, func(k string) string { return labels[k] })); err != nil {
				return p.fileError(key+".label_file", err)
			}
			if err := dotenv.ParseWithFormat(bytes.NewReader(b), shownName(files.root(), lf), labels, lookup, ""); err != nil {
				return p.fileError(key+".label_file", err)
			}
		}
		spec.Labels = types.NewLabelsFromMappingWithEquals(labels.ToMappingWithEquals().OverrideBy(spec.Labels.ToMappingWithEquals()))
		spec.LabelFiles = nil
	}
	return nil
}

// readListedFile reads a file a compose key names; nil, nil for a missing
// file that is not required.
func (p *Project) readListedFile(key, path string, required bool, files fileSet) ([]byte, error) {
	rel, in := files.inside(path)
	if !in {
		return nil, p.loc.outside(key, path)
	}
	if !files.exists(rel) {
		if !required {
			return nil, nil
		}
		return nil, p.fileError(key, meshdock.Errorf(meshdock.EINVALID, "%s: file not found", rel))
	}
	b, err := files.read(rel, MaxFileSize)
	if err != nil {
		return nil, p.fileError(key, err)
	}
	return b, nil
}

// fileError places an error about a listed file at its key.
func (p *Project) fileError(key string, err error) error {
	file, line := p.loc.path(SplitKey(key)...)
	msg := err.Error() // the env file parser's messages name the file and line
	code := meshdock.EINVALID
	var me *meshdock.Error
	if errors.As(err, &me) {
		msg, code = me.Message, me.Code
	}
	return meshdock.Wrap(code, err, "%s:%d: %s: %s", file, line, key, p.cleanPaths(msg))
}
