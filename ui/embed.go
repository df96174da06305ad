// Package ui holds meshdock's web UI as built into ui/dist (make ui), for
// the server to serve; without a build it holds nothing but a marker, and
// the server says how to build it.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Files are the built UI: index.html and its assets.
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the directory is embedded: it is there
	}
	return sub
}
