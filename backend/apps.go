package backend

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/convert"
	"github.com/meshdock/meshdock/store"
)

// appView is what the API shows of an app: its source's file names and
// sizes rather than their contents, and no objects (see manifests).
type appView struct {
	ID           string             `json:"id"`
	Name         string             `json:"name"`
	Origin       store.Origin       `json:"origin"`
	Files        []fileView         `json:"files"`
	ComposeFiles []string           `json:"composeFiles,omitempty"`
	Env          map[string]string  `json:"env,omitempty"`
	Profiles     []string           `json:"profiles,omitempty"`
	Options      convert.Options    `json:"options"`
	Objects      int                `json:"objects"`
	Warnings     []meshdock.Warning `json:"warnings"`
	Graph        meshdock.Graph     `json:"graph"`
	CreatedAt    time.Time          `json:"createdAt"`
	UpdatedAt    time.Time          `json:"updatedAt"`
}

type fileView struct {
	Name string `json:"name"`
	Size int    `json:"size"`
}

func viewOf(a *store.App) appView {
	v := appView{ID: a.ID, Name: a.Name, Origin: a.Origin, Files: []fileView{}, ComposeFiles: a.ComposeFiles,
		Env: a.Env, Profiles: a.Profiles, Options: convert.Options{Namespace: a.Namespace, BindMounts: convert.BindMounts(a.BindMounts)},
		Objects: len(a.Objects), Warnings: a.Warnings, Graph: a.Graph, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	for _, f := range a.Files {
		v.Files = append(v.Files, fileView{Name: f.Name, Size: len(f.Content)})
	}
	if v.Warnings == nil {
		v.Warnings = []meshdock.Warning{}
	}
	return v
}

func (h *handlers) createApp(c echo.Context) error {
	r := c.Request()
	if n := len(r.Header.Values(echo.HeaderContentType)); n > 1 {
		return meshdock.Errorf(meshdock.EINVALID, "Content-Type is given %d times: send it once", n)
	}
	req, err := DecodeImport(r.Header.Get(echo.HeaderContentType), r.Body, h.limits)
	if err != nil {
		return err
	}
	app, err := h.Import(r.Context(), req.appRequest(h.allowDir))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/api/v1/apps/"+app.ID)
	return c.JSON(http.StatusCreated, viewOf(app))
}

func (h *handlers) listApps(c echo.Context) error {
	apps, err := h.store.Apps(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"apps": apps})
}

func (h *handlers) getApp(c echo.Context) error {
	app, err := h.store.App(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewOf(app))
}

func (h *handlers) deleteApp(c echo.Context) error {
	if err := h.DeleteApp(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// manifests answers the app's objects: a YAML bundle to download
// (?format=yaml, the default) or a JSON v1/List (?format=json).
func (h *handlers) manifests(c echo.Context) error {
	format, err := choiceParam(c, "format", "yaml", "json")
	if err != nil {
		return err
	}
	app, err := h.store.App(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if format == "json" {
		if err := convert.WriteJSON(&buf, app.Objects); err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, buf.Bytes())
	}
	if err := convert.WriteYAML(&buf, app.Objects); err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+fileSafe.ReplaceAllString(app.Name, "_")+`.yaml"`)
	return c.Blob(http.StatusOK, "application/yaml", buf.Bytes())
}

// fileSafe matches what may not appear in a download's file name.
var fileSafe = regexp.MustCompile(`[^a-zA-Z0-9._-]`)

func (h *handlers) warnings(c echo.Context) error {
	app, err := h.store.App(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"warnings": viewOf(app).Warnings})
}

func (h *handlers) graph(c echo.Context) error {
	app, err := h.store.App(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, app.Graph)
}

func (h *handlers) composeProjects(c echo.Context) error {
	projects, err := h.engine.Projects(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"projects": projects})
}

// paths answers the app's connections, with why the compose file says
// each is made: what authorization rules allow.
func (h *handlers) paths(c echo.Context) error {
	a, err := h.store.App(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	if a.Graph.Paths == nil {
		return meshdock.Errorf(meshdock.ECONFLICT, "this app was converted before meshdock found its paths: import it again")
	}
	return c.JSON(http.StatusOK, map[string]any{"paths": a.Graph.Paths})
}

// export answers the app as a Kustomize base and overlays or a Helm
// chart, in a tar.gz (default) or zip: ?format=kustomize|helm&mesh=&authz=&archive=tar|zip;
// with &encoding=base64, the archive as base64 text, for a client that
// reads every answer as text (Docker Desktop's extension client).
func (h *handlers) export(c echo.Context) error {
	var opt app.ExportOptions
	for name, v := range map[string]*string{"format": &opt.Format, "mesh": &opt.Mesh, "authz": &opt.Authz} {
		s, err := queryParam(c, name)
		if err != nil {
			return err
		}
		*v = s
	}
	if opt.Format == "" {
		opt.Format = app.ExportKustomize
	}
	archive, err := choiceParam(c, "archive", "tar", "zip")
	if err != nil {
		return err
	}
	encoding, err := choiceParam(c, "encoding", "base64")
	if err != nil {
		return err
	}
	if err := opt.Check(); err != nil {
		return err
	}
	a, err := h.store.App(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	ns := a.Namespace
	if ns == "" {
		ns = app.NamespaceFor(a.Name)
	}
	plan := app.Plan{Project: a.Name, Objects: a.Objects, Graph: a.Graph, Builds: a.Builds}
	select {
	case h.exports <- struct{}{}:
		defer func() { <-h.exports }()
	default:
		return meshdock.Errorf(meshdock.EUNAVAILABLE, "%d exports are being made: try again when one is done", cap(h.exports))
	}
	files, err := app.Export(c.Request().Context(), plan, ns, opt)
	if err != nil {
		return err
	}
	name := fileSafe.ReplaceAllString(a.Name, "_") + "-" + opt.Format
	var buf bytes.Buffer
	typ, ext := "application/gzip", ".tar.gz"
	if archive == "zip" {
		typ, ext = "application/zip", ".zip"
	}
	if err := app.WriteArchive(&buf, archive, name, files); err != nil {
		return err
	}
	if encoding == "base64" {
		return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(base64.StdEncoding.EncodeToString(buf.Bytes())))
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+ext+`"`)
	return c.Blob(http.StatusOK, typ, buf.Bytes())
}
