package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"

	"github.com/meshdock/meshdock"
)

// Limits on what Load accepts. They keep a hostile upload from costing more
// than a real app would.
const (
	MaxComposeFileSize = 4 << 20  // one compose file
	MaxFileSize        = 4 << 20  // any other file of the project
	MaxSourceSize      = 16 << 20 // all files together
	MaxFiles           = 500
	MaxComposeFiles    = 20   // -f files, and likewise --env-file files
	MaxServices        = 1000 // far beyond any real app; bounds the work one upload costs
	maxYAMLDepth       = 100  // nesting levels; real compose files use fewer than 10
)

// defaultComposeFiles are tried in order when Source.ComposeFiles is empty,
// as docker compose does.
var defaultComposeFiles = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// Project is a loaded, fully resolved compose project.
type Project struct {
	*types.Project
	// Files are the compose files, as the user named them.
	Files []string
	// Warnings found while loading.
	Warnings []meshdock.Warning
	// Triggers names the compose jobs (services that run to completion),
	// folded into Services so that they are loaded, checked and converted
	// as services are, with when each runs.
	Triggers map[string]types.TriggerConfig

	loc  *locator
	root string // the directory the project was loaded from (gone after Load)
	// inMemory is true when the project was loaded from a private copy (a
	// source given as files, or a caller's folder read through its root):
	// its paths are the server's, not the user's.
	inMemory bool
	// read holds every file of the project Load read, by relative name.
	read map[string][]byte
	// envFiles are the --env-file files used, by relative name.
	envFiles []string
	// env holds the user's variables, for values read back as written.
	env map[string]string
	// contents holds the files that secrets, configs and bind mounts name,
	// read while the project directory was open, keyed by absolute path.
	contents map[string][]byte
}

// Load reads a compose project with compose-go: several files with override
// semantics, `.env` and explicit variables, profiles and the project-name
// rules. Interpolation uses only the source's own variables, never the
// process environment; a variable that is not set becomes empty with a
// warning. Every file the project names must belong to the source.
func Load(ctx context.Context, src Source) (_ *Project, err error) {
	files, err := openSource(src)
	if err != nil {
		return nil, err
	}
	defer files.close()
	defer func() { err = meshdock.FromContext(ctx, newRedactor(files.root(), files.tmp != "").err(err)) }()

	composeNames, err := composeFileNames(src, files)
	if err != nil {
		return nil, err
	}
	p := &Project{Files: composeNames, root: files.root(), inMemory: files.tmp != "", loc: &locator{}, contents: map[string][]byte{}}

	b := newBudget(files)
	env, envFiles, err := loadEnv(src, files, b)
	if err != nil {
		return nil, err
	}
	p.envFiles, p.env = envFiles, env
	b.withEnv(env)

	details := types.ConfigDetails{WorkingDir: files.root(), Environment: env}
	top := map[string]bool{} // the compose files the user named, by path
	for _, name := range composeNames {
		content, err := files.read(name, MaxComposeFileSize)
		if err != nil {
			return nil, err
		}
		if err := vetFile(files, b, p.loc, name, files.root(), content, false); err != nil {
			return nil, p.loadError(err)
		}
		top[files.abs(name)] = true
		details.ConfigFiles = append(details.ConfigFiles, types.ConfigFile{Filename: files.abs(name), Content: content})
	}

	missing := &missingVars{seen: map[string]bool{}}
	lookup := func(key string) (string, bool) {
		v, ok := env[key]
		if !ok {
			missing.add(key)
		}
		return b.lookup(key, v), ok
	}
	opts := func(o *loader.Options) {
		// docker compose's order: -p, then COMPOSE_PROJECT_NAME, then the
		// top-level name:, then the directory's name.
		switch {
		case src.Name != "":
			o.SetProjectName(src.Name, true)
		case env["COMPOSE_PROJECT_NAME"] != "":
			o.SetProjectName(env["COMPOSE_PROJECT_NAME"], true)
		default:
			o.SetProjectName(loader.NormalizeProjectName(filepath.Base(files.root())), false)
		}
		o.Profiles = src.Profiles
		if len(o.Profiles) == 0 && env["COMPOSE_PROFILES"] != "" {
			o.Profiles = strings.Split(env["COMPOSE_PROFILES"], ",")
		}
		o.SkipResolveEnvironment = true // env_file paths are checked first
		o.SkipResolveLabels = true      // label_file likewise
		// Keep compose-go's substitution and type casts; replace only where
		// values come from.
		if o.Interpolate != nil {
			o.Interpolate.LookupValue = lookup
		}
		o.ResourceLoaders = []loader.ResourceLoader{containedLoader{files: files, budget: b, loc: p.loc, top: top, resolved: map[string]string{}}}
	}
	project, err := loadCompose(ctx, details, opts)
	if berr := b.failed(); berr != nil {
		return nil, berr // whatever else the load made of the empty values
	}
	if err != nil {
		err = p.loadError(err)
		// An unset variable is often why a value is malformed (":/media"
		// from "${MEDIA}:/media"): say so.
		var names []string
		bare := bareVariables(files.got)
		for _, n := range missing.names() {
			if bare[n] {
				names = append(names, n)
			}
		}
		if len(names) > 10 {
			names = append(names[:10], fmt.Sprintf("and %d more", len(names)-10))
		}
		if len(names) > 0 {
			var me *meshdock.Error
			if errors.As(err, &me) {
				at, ok := p.loc.variableUses()[names[0]]
				if placed.MatchString(me.Message) || !ok {
					me.Message += fmt.Sprintf(" (variables not set: %s)", strings.Join(names, ", "))
				} else {
					// No line: the first use of an unset variable is the
					// likeliest place, and said to be only that.
					me.Message = fmt.Sprintf("%s:%d: %s (variables not set: %s; %s is used here)", at.file, at.line,
						strings.TrimPrefix(me.Message, at.file+": "), strings.Join(names, ", "), names[0])
				}
			}
		}
		return nil, err
	}
	if n := len(project.Services) + len(project.DisabledServices); n > MaxServices {
		return nil, meshdock.Errorf(meshdock.ETOOLARGE, "%d services: at most %d are accepted", n, MaxServices)
	}
	p.Triggers = foldJobs(project)
	if err := checkContainment(project, files, p.loc); err != nil {
		return nil, err
	}
	if err := p.resolveFiles(project, files, b); err != nil {
		return nil, err
	}
	// Only bare keys are left to resolve, from the user's variables.
	if project, err = project.WithServicesEnvironmentResolved(true); err != nil {
		return nil, p.loadError(err)
	}
	p.Project = project
	if err := checkLoaded(p); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	if err := p.readContents(files); err != nil {
		return nil, err
	}
	bare, uses := bareVariables(files.got), p.loc.variableUses()
	for _, name := range missing.names() {
		if !bare[name] {
			continue // every use gives a default or an alternative
		}
		file, line := uses[name].file, uses[name].line
		if file == "" && len(p.loc.files) > 0 {
			file = p.loc.files[0].name
		}
		p.Warnings = append(p.Warnings, meshdock.Warning{Key: "${" + name + "}", File: file, Line: line,
			Message: fmt.Sprintf("variable %s is not set: it became an empty string (set it in .env or pass it explicitly)", name)})
	}
	p.dropUnsetEnv()
	p.read = files.got
	return p, nil
}

// foldJobs moves the jobs of a project among its services and returns
// their triggers. Names are unique across both (compose-go checks).
func foldJobs(project *types.Project) map[string]types.TriggerConfig {
	if len(project.Jobs) == 0 {
		return nil
	}
	out := map[string]types.TriggerConfig{}
	if project.Services == nil {
		project.Services = types.Services{}
	}
	for name, j := range project.Jobs {
		if strings.HasPrefix(name, "x-") || strings.HasPrefix(name, "#") {
			continue // an extension of the jobs section, not a job
		}
		project.Services[name] = types.ServiceConfig{Name: name, Profiles: j.Profiles, ContainerSpec: j.ContainerSpec, WorkloadSpec: j.WorkloadSpec, Extensions: j.Extensions}
		var t types.TriggerConfig
		if j.Triggers != nil {
			t = *j.Triggers
		}
		out[name] = t
	}
	project.Jobs, project.DisabledJobs = nil, nil
	return out
}

// Snapshot loads a project and returns it with the same project as an
// in-memory source: for a project on disk, a copy of every file loading
// read (compose files, included and extended files, env files, secret and
// config sources, bind-mounted files) and nothing else. An app imported
// from a folder keeps this copy, so it does not change when the folder
// does; the project returned converts as the copy would, so nothing is
// loaded twice.
func Snapshot(ctx context.Context, src Source) (*Project, Source, error) {
	p, err := Load(ctx, src)
	if err != nil {
		return nil, Source{}, err
	}
	if src.Dir == "" {
		return p, src, nil
	}
	out := Source{Name: p.Name, Env: src.Env, Profiles: src.Profiles}
	names := slices.Sorted(maps.Keys(p.read))
	for _, n := range names {
		out.Files = append(out.Files, File{Name: n, Content: p.read[n]})
	}
	for _, n := range p.Files {
		rel := n
		if filepath.IsAbs(n) {
			rel = shownName(p.root, n)
		}
		if filepath.IsAbs(rel) {
			return nil, Source{}, meshdock.Errorf(meshdock.EINVALID, "%s is outside the project directory", n)
		}
		out.ComposeFiles = append(out.ComposeFiles, rel)
	}
	out.EnvFiles = p.envFiles
	return p, out, nil
}

func init() {
	// compose-go and kompose log through logrus' process-wide logger; what
	// they would say, meshdock reports as warnings or errors of its own.
	logrus.SetOutput(io.Discard)
}

// variableRef matches a run of dollars and the variable after it: an odd
// run is a reference (`$$` is an escaped dollar); `${NAME}` and `$NAME`
// are uses without a default, unlike `${NAME:-x}`, `${NAME-x}`,
// `${NAME:+x}` and `${NAME+x}`.
var variableRef = regexp.MustCompile(`(\$+)(?:\{([A-Za-z_][A-Za-z0-9_]*)(\}?)|([A-Za-z_][A-Za-z0-9_]*))`)

// bareVariables returns the variables some file uses without a default:
// only for those does an unset variable become an empty string the user
// did not ask for. One pass over the files, whatever the number of
// variables.
func bareVariables(files map[string][]byte) map[string]bool {
	out := map[string]bool{}
	for _, b := range files {
		for _, m := range variableRef.FindAllSubmatch(b, -1) {
			if len(m[1])%2 == 0 {
				continue
			}
			switch {
			case len(m[4]) > 0:
				out[string(m[4])] = true
			case len(m[3]) > 0:
				out[string(m[2])] = true
			}
		}
	}
	return out
}

// readContents reads the files of the project that secrets, configs and
// bind mounts name; only files inside the project, never beyond it.
func (p *Project) readContents(files fileSet) error {
	read := func(path string, required bool) error {
		rel, in := files.inside(path)
		if path == "" || !in {
			return nil
		}
		if _, ok := p.contents[path]; ok {
			return nil
		}
		if !files.exists(rel) {
			if required {
				return meshdock.Errorf(meshdock.EINVALID, "%s: file not found", rel)
			}
			return nil
		}
		b, err := files.read(rel, MaxFileSize)
		if err != nil {
			return err
		}
		p.contents[path] = b
		return nil
	}
	where := func(key string, err error) error {
		file, line := p.loc.path(SplitKey(key)...)
		return meshdock.Wrap(meshdock.ErrorCode(err), err, "%s:%d: %s: %s", file, line, key, meshdock.ErrorMessage(err))
	}
	for name, s := range p.Secrets {
		if err := read(s.File, !bool(s.External)); err != nil {
			return where("secrets."+name+".file", err)
		}
	}
	for name, c := range p.Configs {
		if err := read(c.File, !bool(c.External)); err != nil {
			return where("configs."+name+".file", err)
		}
	}
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if err := read(v.Source, false); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// relPath names a path of the project relative to its directory, for
// messages and object data keys.
func (p *Project) relPath(path string) string { return shownName(p.root, path) }

// loadCompose calls compose-go and turns its panics into errors: it is fed
// user input, and no input may take the process down. A panic is a defect
// (compose-go's, or a gap in what meshdock checks first), never the user's
// mistake: it is an internal error with the stack kept for the log.
func loadCompose(ctx context.Context, details types.ConfigDetails, opts func(*loader.Options)) (project *types.Project, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = meshdock.Recovered("compose-go", r)
		}
	}()
	return loader.LoadWithContext(ctx, details, opts)
}

// dropUnsetEnv removes `environment` entries without a value (a bare `KEY`
// that no variable of the user's sets): docker compose would fill them from
// the shell, and the server's own environment must never stand in for that.
func (p *Project) dropUnsetEnv() {
	for name, s := range p.Services {
		for k, v := range s.Environment {
			if v != nil {
				continue
			}
			delete(s.Environment, k)
			file, line := p.loc.serviceKey(name, "environment")
			p.Warnings = append(p.Warnings, meshdock.Warning{Service: name, Key: "environment." + k, File: file, Line: line,
				Message: fmt.Sprintf("%s has no value and no variable of that name was given; it was left out", k)})
		}
		p.Services[name] = s
	}
}

type missingVars struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (m *missingVars) add(k string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen[k] = true
}

func (m *missingVars) names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Sorted(maps.Keys(m.seen))
	return out
}

// composeFileNames returns the compose files to load, in override order.
func composeFileNames(src Source, files fileSet) ([]string, error) {
	if err := checkList("compose files", src.ComposeFiles); err != nil {
		return nil, err
	}
	if len(src.ComposeFiles) > 0 {
		for _, n := range src.ComposeFiles {
			if !files.exists(n) {
				return nil, meshdock.Errorf(meshdock.EINVALID, "%s: compose file not found", n)
			}
		}
		return src.ComposeFiles, nil
	}
	for _, n := range defaultComposeFiles {
		if !files.exists(n) {
			continue
		}
		names := []string{n}
		ext := path.Ext(n)
		if o := strings.TrimSuffix(n, ext) + ".override" + ext; files.exists(o) {
			names = append(names, o)
		}
		return names, nil
	}
	return nil, meshdock.Errorf(meshdock.EINVALID, "no compose file found: expected one of %s", strings.Join(defaultComposeFiles, ", "))
}

// checkList refuses a list of file names with repeats (./a is a) or too
// many names: each costs a full read and parse.
func checkList(what string, names []string) error {
	if len(names) > MaxComposeFiles {
		return meshdock.Errorf(meshdock.EINVALID, "%d %s: at most %d are accepted", len(names), what, MaxComposeFiles)
	}
	seen := map[string]bool{}
	for _, n := range names {
		clean := filepath.Clean(n)
		if seen[clean] {
			return meshdock.Errorf(meshdock.EINVALID, "%s: named twice among the %s", n, what)
		}
		seen[clean] = true
	}
	return nil
}

// loadEnv builds the variables for interpolation: the env files in order,
// then the explicit ones. Env files are read with the variables seen so far
// only, never the process environment.
func loadEnv(src Source, files fileSet, b *budget) (map[string]string, []string, error) {
	if err := checkList("env files", src.EnvFiles); err != nil {
		return nil, nil, err
	}
	env := map[string]string{}
	names := src.EnvFiles
	if len(names) == 0 && files.exists(".env") {
		names = []string{".env"}
	}
	for _, n := range names {
		content, err := files.read(n, MaxFileSize)
		if err != nil {
			return nil, nil, err
		}
		if envFileBound(content, func(k string) string { return env[k] }) > MaxInterpolated {
			return nil, nil, meshdock.Errorf(meshdock.ETOOLARGE, "%s: its variables expand to more than %s: at most %s are accepted", n, meshdock.FormatSize(MaxInterpolated), meshdock.FormatSize(MaxInterpolated))
		}
		vars, err := dotenv.ParseWithLookup(bytes.NewReader(content), func(k string) (string, bool) {
			v, ok := env[k]
			return b.lookup(k, v), ok
		})
		if err := b.failed(); err != nil {
			return nil, nil, meshdock.Errorf(meshdock.ETOOLARGE, "%s: %s", n, meshdock.ErrorMessage(err))
		}
		if err != nil {
			return nil, nil, meshdock.Errorf(meshdock.EINVALID, "%s: %v", n, err)
		}
		for k, v := range vars {
			env[k] = v
		}
	}
	for k, v := range src.Env {
		env[k] = v
	}
	return env, names, nil
}

// checkYAML rejects what compose-go would choke on before it gets there:
// text that is not UTF-8 and nesting deep enough to exhaust the stack.
func checkYAML(name string, content []byte) error {
	if !utf8.Valid(content) {
		line := 1 + bytes.Count(content[:invalidUTF8At(content)], []byte("\n"))
		return meshdock.Errorf(meshdock.EINVALID, "%s: line %d: the file is not valid UTF-8 text", name, line)
	}
	depth, line := 0, 1
	for _, c := range content {
		switch c {
		case '\n':
			line++
		case '[', '{':
			depth++
			if depth > maxYAMLDepth {
				return meshdock.Errorf(meshdock.EINVALID, "%s: line %d: the YAML exceeds the maximum nesting depth of %d", name, line, maxYAMLDepth)
			}
		case ']', '}':
			depth--
		}
	}
	// Block-style nesting shows as indentation. Brackets inside strings
	// count too, which errs on the safe side: real files stay far below.
	for i, l := range bytes.Split(content, []byte("\n")) {
		indent := len(l) - len(bytes.TrimLeft(l, " -"))
		if indent > maxYAMLDepth*8 {
			return meshdock.Errorf(meshdock.EINVALID, "%s: line %d: the YAML exceeds the maximum nesting depth", name, i+1)
		}
	}
	return nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// containedLoader resolves `extends: file:` and `include:` paths, refusing
// any that leave the project directory. A relative path is taken from the
// working directory of the file that names it, as compose-go takes it: the
// project directory for a compose file the user named, the file's own
// directory for one read for an include or an extends.
type containedLoader struct {
	files  fileSet
	budget *budget
	loc    *locator
	top    map[string]bool
	// resolved maps the relative paths Load was given to what they named,
	// for Dir, which compose-go calls without saying which file asks.
	resolved map[string]string
}

func (l containedLoader) Accept(string) bool { return true }

// base is the directory relative paths of the file being loaded start from.
func (l containedLoader) base(ctx context.Context) string {
	if f, ok := ctx.Value(consts.ComposeFileKey{}).(string); ok && f != "" && !l.top[f] && isUnder(l.files.root(), f) {
		return filepath.Dir(f)
	}
	return l.files.root()
}

func (l containedLoader) Load(ctx context.Context, p string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err // the load ends between files when its caller gives up
	}
	if strings.Contains(p, "://") {
		return "", meshdock.Errorf(meshdock.EINVALID, "%s: remote compose files are not supported: include or extend files of the project", p)
	}
	abs := p
	if !filepath.IsAbs(p) {
		abs = filepath.Join(l.base(ctx), p)
		l.resolved[p] = filepath.Clean(abs)
	}
	abs = filepath.Clean(abs)
	name, in := l.files.inside(abs)
	if !in {
		return "", meshdock.Errorf(meshdock.EINVALID, "%s is outside the project: only files of the project can be included or extended", p)
	}
	if _, seen := l.files.got[name]; seen {
		// Read and checked already; compose-go loads it again all the same.
		if err := l.budget.again(name); err != nil {
			return "", err
		}
		return abs, l.budget.included(name, l.files.got[name])
	}
	content, err := l.files.read(name, MaxComposeFileSize)
	if err != nil {
		return "", err
	}
	if err := vetFile(l.files, l.budget, l.loc, name, filepath.Dir(abs), content, true); err != nil {
		return "", err
	}
	return abs, nil
}

// vetFile runs what every compose file gets before compose-go reads it,
// whether the user named it or compose-go reads it for an include or an
// extends (included): it is parsed strictly, recorded for locating keys,
// counted against the budget (an included file's interpolation too, which
// compose-go does without meshdock's lookup), and its includes are
// checked, relative paths taken from base.
func vetFile(files fileSet, b *budget, loc *locator, name, base string, content []byte, included bool) error {
	root, err := parseChecked(name, content)
	if err != nil {
		return err
	}
	doc, err := b.scan(name, loc.addRoot(name, content, root, included), base)
	if err != nil {
		return err
	}
	if included {
		if err := b.included(name, content); err != nil {
			return err
		}
	}
	return checkIncludes(files, files.abs(name), base, doc, included, b)
}

func (l containedLoader) Dir(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Dir(p)
	}
	if abs, ok := l.resolved[p]; ok {
		return filepath.Dir(abs)
	}
	return filepath.Dir(filepath.Join(l.files.root(), p))
}

// checkContainment refuses a project that names files outside its own
// directory in a place whose content would be read: env_file, label_file,
// and the sources of secrets and configs. Bind mounts are not read here at
// all; the volumes pass deals with them.
func checkContainment(p *types.Project, files fileSet, loc *locator) error {
	check := func(where, f string) error {
		if f == "" {
			return nil
		}
		if _, in := files.inside(f); !in {
			return loc.outside(where, f)
		}
		return nil
	}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		for _, ef := range s.EnvFiles {
			if err := check(loc.sectionOf(name)+"."+name+".env_file", ef.Path); err != nil {
				return err
			}
		}
		for _, lf := range s.LabelFiles {
			if err := check(loc.sectionOf(name)+"."+name+".label_file", lf); err != nil {
				return err
			}
		}
	}
	for name, s := range p.Secrets {
		if err := check("secrets."+name+".file", s.File); err != nil {
			return err
		}
	}
	for name, c := range p.Configs {
		if err := check("configs."+name+".file", c.File); err != nil {
			return err
		}
	}
	return nil
}

// isUnder reports whether p is root or below it, by name.
func isUnder(root, p string) bool {
	_, ok := relativeTo(root, p)
	return ok
}

// shownName names p relative to root when it is below it, else as it is.
func shownName(root, p string) string {
	if rel, ok := relativeTo(root, p); ok {
		return rel
	}
	return p
}

// loadError turns a compose-go error into an invalid-input error whose
// message names the user's file (not our private copy) and, where compose-go
// gives a key path, the line it is on.
func (p *Project) loadError(err error) error {
	var me *meshdock.Error
	if errors.As(err, &me) {
		me.Message = p.cleanPaths(me.Message)
		return me
	}
	if errors.Is(err, fs.ErrNotExist) {
		return meshdock.Wrap(meshdock.EINVALID, err, "%s", p.cleanPaths(err.Error()))
	}
	msg := fixParserLines(p.cleanPaths(err.Error()))
	msg = strings.Join(strings.Fields(decodingPreamble.ReplaceAllString(msg, "")), " ")
	msg = p.loc.annotate(msg, p.Files)
	return meshdock.Wrap(meshdock.EINVALID, err, "%s", msg)
}

var lineNumber = regexp.MustCompile(`line (\d+)`)

// decodingPreamble is what mapstructure puts before the errors it lists.
var decodingPreamble = regexp.MustCompile(`decoding failed due to the following error\(s\):\s*`)

// placed matches a message that names a line.
var placed = regexp.MustCompile(`^[^\s:]+:\d+: |line \d+`)

// fixParserLines corrects the YAML parser's messages ("while parsing a
// block mapping at line 2 ...: line 4, column 4: did not find expected
// key"), whose line numbers count from zero, unlike its scanner's.
func fixParserLines(msg string) string {
	if !strings.Contains(msg, "yaml: while parsing") {
		return msg
	}
	return lineNumber.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
		return fmt.Sprintf("line %d", n+1)
	})
}

// cleanPaths rewrites paths inside the private copy to names relative to the
// project, so a message never shows where the server keeps its files.
func (p *Project) cleanPaths(msg string) string { return newRedactor(p.root, p.inMemory).text(msg) }
