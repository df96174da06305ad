package compose

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/meshdock/meshdock"
)

// serverHome is the home directory of the converting process, which
// compose-go uses to expand `~`; "" when it has none worth hiding.
func serverHome() string {
	home, err := os.UserHomeDir()
	if err != nil || len(home) < 2 || !filepath.IsAbs(home) {
		return ""
	}
	return filepath.Clean(home)
}

// redactor rewrites the converting machine's paths in text meant for the
// user of an upload: the private copy becomes the project's own names, its
// parent "../", the server's home "~". It is the one net under every
// message and warning of an upload; the passes already name paths as the
// user wrote them, so it should find nothing to do.
type redactor struct {
	pairs []string // old, new, ...
}

func newRedactor(root string, inMemory bool) redactor {
	var r redactor
	if root == "" {
		return r
	}
	sep := string(filepath.Separator)
	r.pairs = append(r.pairs, root+sep, "", root, ".")
	if !inMemory {
		return r
	}
	if parent := filepath.Dir(root); parent != sep {
		r.pairs = append(r.pairs, parent+sep, "../", parent, "..")
	}
	if home := serverHome(); home != "" {
		r.pairs = append(r.pairs, home+sep, "~/", home, "~")
	}
	return r
}

func (r redactor) text(s string) string {
	for i := 0; i+1 < len(r.pairs); i += 2 {
		if strings.Contains(s, r.pairs[i]) {
			s = strings.ReplaceAll(s, r.pairs[i], r.pairs[i+1])
		}
	}
	return s
}

// err rewrites the message of a domain error; other errors are shown as
// "internal error" anyway.
func (r redactor) err(err error) error {
	var me *meshdock.Error
	if err != nil && errors.As(err, &me) {
		me.Message = r.text(me.Message)
	}
	return err
}

func (r redactor) warnings(ws []meshdock.Warning) {
	for i := range ws {
		ws[i].Message, ws[i].File, ws[i].Key = r.text(ws[i].Message), r.text(ws[i].File), r.text(ws[i].Key)
	}
}
