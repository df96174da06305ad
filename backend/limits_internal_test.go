package backend

import (
	"testing"

	"github.com/meshdock/meshdock/compose"
)

// The server's limits narrow the loader's and never raise them: a larger
// value is cut to what any load accepts.
func TestLimitsNarrowTheLoaders(t *testing.T) {
	l := Limits{FileSize: 1 << 30, Files: 1 << 20, Listed: 1 << 10}.orDefaults()
	if l.FileSize > compose.MaxFileSize || l.Files > compose.MaxFiles || l.Listed > compose.MaxComposeFiles {
		t.Errorf("limits %+v are over the loader's (%d bytes, %d files, %d names)", l, compose.MaxFileSize, compose.MaxFiles, compose.MaxComposeFiles)
	}
	if d := (Limits{}).orDefaults(); d.FileSize != 1<<20 || d.Files != 200 || d.Listed != 20 {
		t.Errorf("defaults changed: %+v", d)
	}
}

// A client's words for a warning keep to one line and a length, cut on a
// character's boundary.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"a\nb\tc":         "a b c",
		"x\u202ey\u200bz": "x y z",
		"  sp  o  ":       "sp o",
		"ééééé":           "éé…",
		"plain":           "plain",
	} {
		if got := printable(in, 7); got != want || len(got) > 7 {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
