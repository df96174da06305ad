package backend

import (
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/meshdock/meshdock/ui"
)

// notBuilt is the page served at / when the binary holds no UI.
const notBuilt = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>meshdock</title></head>
<body><main><h1>meshdock</h1><p>This build has no web UI: build it with <code>make ui</code> (or <code>make build</code>), then start <code>meshdock serve</code> again. The API is at <code>/api/v1</code>.</p></main></body></html>`

// uiHeaders keep the page to itself: scripts and styles from the server
// only (MUI's inline styles aside), no framing by another site, no
// sniffing.
func uiHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// serveUI answers the UI built into the binary.
func (h *handlers) serveUI(c echo.Context) error {
	return serveFiles(c, ui.Files())
}

// serveFiles answers a built UI's files: index.html at /, the hashed
// assets for a year; without index.html, a page that says how to build
// it.
func serveFiles(c echo.Context, files fs.FS) error {
	p := c.Request().URL.Path
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if name == "" {
		name = "index.html"
	}
	uiHeaders(c.Response().Header())
	// The page at / and /index.html only; assets under /assets/ only,
	// however the path is written, built or not.
	if name == "index.html" && p != "/" && p != "/index.html" || name != "index.html" && (!strings.HasPrefix(name, "assets/") || !strings.HasPrefix(p, "/assets/")) {
		return echo.ErrNotFound
	}
	data, err := fs.ReadFile(files, name)
	if err != nil && name == "index.html" {
		return c.HTML(http.StatusOK, notBuilt)
	}
	if err != nil {
		return echo.ErrNotFound
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = http.DetectContentType(data)
	}
	if strings.HasPrefix(name, "assets/") {
		c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
	}
	return c.Blob(http.StatusOK, ctype, data)
}
