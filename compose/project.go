package compose

import (
	"github.com/meshdock/meshdock"
)

// Locate returns the file and line where a key of a service (or job) is
// written, the key given in parts; with service "", a top-level key path.
func (p *Project) Locate(service string, parts ...string) (string, int) {
	if service == "" {
		return p.loc.path(parts...)
	}
	return p.loc.serviceKey(service, parts...)
}

// Has reports whether some compose file of the project writes the key path.
func (p *Project) Has(parts ...string) bool { return p.loc.has(parts...) }

// Content returns a file of the project that a secret, a config or a bind
// mount names (an absolute path as compose-go gives it), as it was read
// while loading; false for a path outside the project, a folder or a
// missing file. Nothing is read after Load.
func (p *Project) Content(path string) ([]byte, bool) {
	b, ok := p.contents[path]
	return b, ok
}

// Rel names an absolute path of the project relative to its directory,
// with forward slashes; false when the path is outside it.
func (p *Project) Rel(path string) (string, bool) {
	if !isUnder(p.root, path) {
		return "", false
	}
	return shownName(p.root, path), true
}

// InMemory reports whether the project was loaded from a private copy (an
// upload, or a folder read for someone): its paths are the server's, not
// the user's.
func (p *Project) InMemory() bool { return p.inMemory }

// Redact rewrites the converting machine's paths in an error's message.
func (p *Project) Redact(err error) error { return newRedactor(p.root, p.inMemory).err(err) }

// RedactWarnings does the same for warnings, in place.
func (p *Project) RedactWarnings(ws []meshdock.Warning) { newRedactor(p.root, p.inMemory).warnings(ws) }

// WithProfiles returns the project with the services of these profiles
// enabled and the others disabled, as if it had been loaded with them.
func (p *Project) WithProfiles(profiles []string) (*Project, error) {
	pp, err := p.Project.WithProfiles(profiles)
	if err != nil {
		return nil, p.loadError(err)
	}
	out := *p
	out.Project = pp
	return &out, nil
}
