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
