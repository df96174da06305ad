package compose

import (
	"github.com/compose-spec/compose-go/v2/schema"
)

// Every conversion validates against the compose specification's JSON
// schema, which compose-go compiles on first use (about as long as the rest
// of a small conversion). Compiling it in the background as soon as the
// package is initialised overlaps that with the rest of the process's
// start-up; a conversion that comes first simply waits for it.
func init() {
	go func() { _ = schema.Validate(map[string]any{"services": map[string]any{}}) }()
}
