package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"path"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/convert"
)

// ImportRequest is the body of POST /api/v1/apps. Exactly one of Files, Dir
// and Project says where the compose app comes from; a Project may come
// with its Files, as read where it runs.
type ImportRequest struct {
	// Name is the project name; empty means compose's rules (name:, or the
	// directory's name).
	Name string `json:"name,omitempty"`
	// Files are uploaded or pasted files, content as text.
	Files []FileUpload `json:"files,omitempty"`
	// Dir is a project directory on the server's disk (standalone only).
	Dir string `json:"dir,omitempty"`
	// Project is the name of a compose project known to the Docker Engine.
	// With Files, they are its compose files (and what they name) as read
	// on the machine where it runs; without, the server reads them itself
	// when it may, or rebuilds the app from the project's containers.
	Project string `json:"project,omitempty"`
	// Unread, with a Project and no Files, says why the client could not
	// read the project's files where it runs; the app rebuilt from its
	// containers says so in its first warning.
	Unread string `json:"unread,omitempty"`

	ComposeFiles []string          `json:"composeFiles,omitempty"`
	EnvFiles     []string          `json:"envFiles,omitempty"`
	Env          map[string]string `json:"env,omitempty"`
	Profiles     []string          `json:"profiles,omitempty"`
	Namespace    string            `json:"namespace,omitempty"`
	BindMounts   string            `json:"bindMounts,omitempty"`
}

// FileUpload is one file of an import.
type FileUpload struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// Compose's rule for project names; namespaces and profiles have their own.
var (
	projectName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	profileName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	dnsLabel    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	envName     = regexp.MustCompile(`^[^=\x00]+$`)
)

// DecodeImport reads an import request of the given content type:
// application/json or multipart/form-data. It checks everything that can be
// checked without loading the project, so that a bad request costs little.
func DecodeImport(contentType string, body io.Reader, lim Limits) (ImportRequest, error) {
	lim = lim.orDefaults()
	mt, params, err := mime.ParseMediaType(contentType)
	if contentType == "" || err != nil {
		return ImportRequest{}, meshdock.Errorf(meshdock.EUNSUPPORTED, "content type %s: send application/json or multipart/form-data", quoteName(contentType))
	}
	var req ImportRequest
	switch mt {
	case "application/json":
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return ImportRequest{}, meshdock.Errorf(meshdock.EUNSUPPORTED, "charset %s: JSON is sent as UTF-8", quoteName(cs))
		}
		err = decodeJSON(body, &req, requestKeys)
	case "multipart/form-data":
		err = decodeMultipart(body, params["boundary"], &req, lim)
	default:
		return ImportRequest{}, meshdock.Errorf(meshdock.EUNSUPPORTED, "content type %s: send application/json or multipart/form-data", quoteName(mt))
	}
	if err != nil {
		return ImportRequest{}, err
	}
	return req, req.validate(lim)
}

func decodeJSON(body io.Reader, req any, rule *keyRule) error {
	// The body is capped (limitBody): read it once, walk it, decode it.
	data, err := io.ReadAll(body)
	if err != nil {
		return bodyError(err, "cannot read the body")
	}
	// RFC 8259 lets a reader ignore a byte order mark; the decoder does not.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	// The decoder would make each bad byte U+FFFD without a word.
	if !utf8.Valid(data) {
		return meshdock.Errorf(meshdock.EINVALID, "the body is not UTF-8: JSON is sent as UTF-8")
	}
	var me *meshdock.Error
	if err := checkKeys(data, rule); errors.As(err, &me) {
		return err
	} // a syntax error: the decoder says where
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return meshdock.Wrap(meshdock.EINVALID, err, "malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te) && te.Field == "":
			return meshdock.Wrap(meshdock.EINVALID, err, "the body must be a JSON object, not %.40s", te.Value)
		case errors.As(err, &te):
			return meshdock.Wrap(meshdock.EINVALID, err, "JSON field %s must be %s, not %.40s", quoteName(te.Field), jsonKind(te.Type.Kind().String()), te.Value)
		case errors.Is(err, io.EOF):
			return meshdock.Errorf(meshdock.EINVALID, "empty body: send a JSON object")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return meshdock.Wrap(meshdock.EINVALID, err, "malformed JSON: the body ends in the middle of a value")
		}
		return bodyError(err, "malformed JSON")
	}
	if err := dec.Decode(&json.RawMessage{}); err != io.EOF {
		if err == nil {
			err = errors.New("more than one value in the body")
		}
		return bodyError(err, "malformed JSON after the object")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int64":
		return "a number"
	}
	return "a " + k
}

// decodeMultipart reads a form: fields name, dir, project, namespace,
// bindMounts (once), composeFiles, envFiles, profiles and env (KEY=VALUE)
// (repeatable), and every part with a file name as a file of the project.
func decodeMultipart(body io.Reader, boundary string, req *ImportRequest, lim Limits) error {
	if boundary == "" {
		return meshdock.Errorf(meshdock.EINVALID, "multipart body without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	given := map[string]bool{}
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return bodyError(err, "malformed multipart body")
		}
		_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		if err != nil {
			return meshdock.Errorf(meshdock.EINVALID, "a multipart part has no valid Content-Disposition")
		}
		field := params["name"]
		// Part.FileName would drop the directories of "config/nginx.conf";
		// the raw parameter keeps them, and CheckFileName vets them.
		if filename, ok := params["filename"]; ok {
			if len(req.Files) >= lim.Files {
				return meshdock.Errorf(meshdock.ETOOLARGE, "more than %d files: at most %d are accepted", lim.Files, lim.Files)
			}
			content, err := readPart(p, lim.FileSize, filename)
			if err != nil {
				return err
			}
			req.Files = append(req.Files, FileUpload{Name: filename, Content: string(content)})
			continue
		}
		value, err := readPart(p, 64<<10, field)
		if err != nil {
			return err
		}
		if err := req.setField(field, string(value), given, lim); err != nil {
			return err
		}
	}
}

func readPart(p *multipart.Part, limit int, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(p, int64(limit)+1))
	if err != nil {
		return nil, bodyError(err, "malformed multipart body")
	}
	if len(b) > limit {
		return nil, meshdock.Errorf(meshdock.ETOOLARGE, "%s is over %s: at most %s per file", quoteName(name), size(int64(limit)), size(int64(limit)))
	}
	return b, nil
}

// setField sets a form field. given records the fields set once, and the
// env names, so that a second value is refused rather than kept or
// dropped; a repeatable field is refused once over its limit, before a
// form of many small parts has built a long list.
func (req *ImportRequest) setField(field, value string, given map[string]bool, lim Limits) error {
	once := func(dst *string) error {
		if given[field] {
			return meshdock.Errorf(meshdock.EINVALID, "field %s is given twice", quoteName(field))
		}
		given[field], *dst = true, value
		return nil
	}
	add := func(dst *[]string, limit int) error {
		if len(*dst) >= limit {
			return meshdock.Errorf(meshdock.EINVALID, "%s is given more than %d times: at most %d are accepted", field, limit, limit)
		}
		*dst = append(*dst, value)
		return nil
	}
	switch field {
	case "name":
		return once(&req.Name)
	case "dir":
		return once(&req.Dir)
	case "project":
		return once(&req.Project)
	case "unread":
		return once(&req.Unread)
	case "namespace":
		return once(&req.Namespace)
	case "bindMounts":
		return once(&req.BindMounts)
	case "composeFiles":
		return add(&req.ComposeFiles, lim.Listed)
	case "envFiles":
		return add(&req.EnvFiles, lim.Listed)
	case "profiles":
		return add(&req.Profiles, lim.Listed)
	case "env":
		k, v, ok := strings.Cut(value, "=")
		if !ok {
			return meshdock.Errorf(meshdock.EINVALID, "env value %s is not KEY=VALUE", quoteName(value))
		}
		if given["env "+k] {
			return meshdock.Errorf(meshdock.EINVALID, "env variable %s is given twice", quoteName(k))
		}
		if len(req.Env) >= lim.Env {
			return meshdock.Errorf(meshdock.EINVALID, "env is given more than %d times: at most %d variables are accepted", lim.Env, lim.Env)
		}
		if req.Env == nil {
			req.Env = map[string]string{}
		}
		given["env "+k], req.Env[k] = true, v
	default:
		return meshdock.Errorf(meshdock.EINVALID, "unknown form field %s", quoteName(field))
	}
	return nil
}

// unprintable reports whether s is not UTF-8 or holds a control or format
// character (Unicode Cc and Cf: NUL, DEL, C1, bidirectional overrides,
// zero-width marks): in a name they hide text, or make one name look like
// another.
func unprintable(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	return strings.IndexFunc(s, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }) >= 0
}

// maxUnread is the longest reason for not reading a project's files that
// an app keeps (what a client gives is cut to it).
const maxUnread = 500

// printable is s with its control and format characters (line breaks,
// bidirectional overrides, zero-width marks) as spaces, and cut to at
// most n bytes on a character's boundary: a client's words made fit for
// one line of a warning.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.In(r, unicode.Cc, unicode.Cf) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// maxPath is the longest path a folder import may name (Linux's PATH_MAX).
const maxPath = 4096

var quoteName = meshdock.QuoteName

// validate checks a decoded request against the limits and the naming rules.
func (req *ImportRequest) validate(lim Limits) error {
	sources := 0
	// A project may come with its own files, read where it runs (the
	// extension's host side reads them for the server in its container).
	for _, given := range []bool{len(req.Files) > 0 && req.Project == "", req.Dir != "", req.Project != ""} {
		if given {
			sources++
		}
	}
	if sources != 1 {
		return meshdock.Errorf(meshdock.EINVALID, "give exactly one of files, dir and project (a project may come with its files)")
	}
	if req.Name != "" && !projectName.MatchString(req.Name) {
		return meshdock.Errorf(meshdock.EINVALID, "name %s: use lowercase letters, digits, dashes and underscores, starting with a letter or digit", quoteName(req.Name))
	}
	if req.Project != "" && !projectName.MatchString(req.Project) {
		return meshdock.Errorf(meshdock.EINVALID, "project %s is not a compose project name", quoteName(req.Project))
	}
	if req.Unread != "" && (req.Project == "" || len(req.Files) > 0 || len(req.Unread) > 8*maxUnread || !utf8.ValidString(req.Unread)) {
		return meshdock.Errorf(meshdock.EINVALID, "unread says why a project's files could not be read: give it with a project and no files, at most %d bytes of UTF-8", 8*maxUnread)
	}
	req.Unread = printable(req.Unread, maxUnread)
	if req.Dir != "" && (!path.IsAbs(req.Dir) || unprintable(req.Dir) || len(req.Dir) > maxPath) {
		return meshdock.Errorf(meshdock.EINVALID, "dir %s must be an absolute path of at most %d bytes, without control or format characters", quoteName(req.Dir), maxPath)
	}
	if req.Namespace != "" && (len(req.Namespace) > 63 || !dnsLabel.MatchString(req.Namespace)) {
		return meshdock.Errorf(meshdock.EINVALID, "namespace %s is not a valid Kubernetes namespace name", quoteName(req.Namespace))
	}
	switch convert.BindMounts(req.BindMounts) {
	case "", convert.BindMountsSkip, convert.BindMountsHostPath, convert.BindMountsConfigMap:
	default:
		return meshdock.Errorf(meshdock.EINVALID, "bindMounts %s: use skip, hostpath or configmap", quoteName(req.BindMounts))
	}
	if err := req.validateFiles(lim); err != nil {
		return err
	}
	if len(req.Env) > lim.Env {
		return meshdock.Errorf(meshdock.EINVALID, "env holds %d variables: at most %d are accepted", len(req.Env), lim.Env)
	}
	for k, v := range req.Env {
		if !envName.MatchString(k) || unprintable(k) || strings.ContainsRune(v, 0) || !utf8.ValidString(v) {
			return meshdock.Errorf(meshdock.EINVALID, "env variable %s: a name must be non-empty without =, control or format characters, a value UTF-8 without NUL", quoteName(k))
		}
	}
	if len(req.Profiles) > lim.Listed {
		return meshdock.Errorf(meshdock.EINVALID, "profiles lists %d profiles: at most %d are accepted", len(req.Profiles), lim.Listed)
	}
	for _, p := range req.Profiles {
		if !profileName.MatchString(p) {
			return meshdock.Errorf(meshdock.EINVALID, "profile %s is not a valid profile name", quoteName(p))
		}
	}
	return nil
}

func (req *ImportRequest) validateFiles(lim Limits) error {
	if len(req.Files) > lim.Files {
		return meshdock.Errorf(meshdock.ETOOLARGE, "%d files: at most %d are accepted", len(req.Files), lim.Files)
	}
	names := map[string]bool{}
	for _, f := range req.Files {
		if err := compose.CheckFileName(f.Name); err != nil {
			return err
		}
		clean := path.Clean(f.Name)
		if names[clean] {
			return meshdock.Errorf(meshdock.EINVALID, "file %s is given twice", quoteName(f.Name))
		}
		names[clean] = true
		if len(f.Content) > lim.FileSize {
			return meshdock.Errorf(meshdock.ETOOLARGE, "file %s is %s: at most %s per file", quoteName(f.Name), size(int64(len(f.Content))), size(int64(lim.FileSize)))
		}
	}
	// With files, the names listed must be among them; with a directory
	// they are checked when it is read.
	for _, list := range []struct {
		field string
		names []string
	}{{"composeFiles", req.ComposeFiles}, {"envFiles", req.EnvFiles}} {
		if err := checkListed(list.field, list.names, lim.Listed); err != nil {
			return err
		}
		for _, n := range list.names {
			if len(req.Files) > 0 && !names[path.Clean(n)] {
				return meshdock.Errorf(meshdock.EINVALID, "%s is listed but not among the files", quoteName(n))
			}
		}
	}
	return nil
}

// checkListed vets the names of composeFiles or envFiles: each loads its
// file once more, so a long or repeated list is only work for nothing.
func checkListed(field string, names []string, limit int) error {
	if len(names) > limit {
		return meshdock.Errorf(meshdock.EINVALID, "%s lists %d files: at most %d are accepted", field, len(names), limit)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if err := compose.CheckFileName(n); err != nil {
			return err
		}
		clean := path.Clean(n)
		if seen[clean] {
			return meshdock.Errorf(meshdock.EINVALID, "%s lists %s twice", field, quoteName(n))
		}
		seen[clean] = true
	}
	return nil
}

// appRequest is the import use case's request; allowDir permits reading
// this machine's disk.
func (req *ImportRequest) appRequest(allowDir bool) app.ImportRequest {
	return app.ImportRequest{Source: req.source(), Dir: req.Dir, Project: req.Project, Unread: req.Unread, Options: req.options(), AllowDir: allowDir}
}

// source is the compose.Source of an import of files.
func (req *ImportRequest) source() compose.Source {
	src := compose.Source{Name: req.Name, ComposeFiles: req.ComposeFiles, EnvFiles: req.EnvFiles,
		Env: req.Env, Profiles: req.Profiles}
	for _, f := range req.Files {
		src.Files = append(src.Files, compose.File{Name: path.Clean(f.Name), Content: []byte(f.Content)})
	}
	return src
}

func (req *ImportRequest) options() convert.Options {
	return convert.Options{Namespace: req.Namespace, BindMounts: convert.BindMounts(req.BindMounts)}
}
