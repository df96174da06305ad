package backend

import (
	"net/http"
	"reflect"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
)

// meshKeys are the fields of a mesh install: values are the charts', by
// release, and may hold any keys.
var meshKeys = &keyRule{fields: jsonFields(reflect.TypeFor[app.MeshRequest]()), about: "the fields are",
	sub: map[string]*keyRule{"values": {}}}

// listMeshes answers, for the cluster of ?context= (the current one when
// none), each mesh: installed or not, its version, its health.
func (h *handlers) listMeshes(c echo.Context) error {
	if err := h.clustersAllowed(); err != nil {
		return err
	}
	list, err := h.Meshes(c.Request().Context(), c.QueryParam("context"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"meshes": list})
}

// installMesh installs or upgrades a mesh (app.MeshRequest as JSON, or no
// body) -> 202 {operation}.
func (h *handlers) installMesh(c echo.Context) error {
	if err := h.clustersAllowed(); err != nil {
		return err
	}
	var req app.MeshRequest
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c.Request().Body, &req, meshKeys); err != nil {
			return err
		}
	}
	q, err := queryParam(c, "context")
	if err != nil {
		return err
	}
	switch {
	case q != "" && req.Context != "" && q != req.Context:
		return meshdock.Errorf(meshdock.EINVALID, "the query names context %s and the body %s: name one", meshdock.QuoteName(q), meshdock.QuoteName(req.Context))
	case q != "":
		req.Context = q
	}
	op, err := h.StartMeshInstall(c.Request().Context(), c.Param("name"), req)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", apiPrefix+"/operations/"+op.ID)
	return c.JSON(http.StatusAccepted, map[string]any{"operation": op})
}

// uninstallMesh removes a mesh: ?context=, ?force=true -> 202 {operation}.
func (h *handlers) uninstallMesh(c echo.Context) error {
	if err := h.clustersAllowed(); err != nil {
		return err
	}
	ctxName, err := queryParam(c, "context")
	if err != nil {
		return err
	}
	req := app.MeshRequest{Context: ctxName}
	f, err := queryParam(c, "force")
	if err != nil {
		return err
	}
	if f != "" {
		force, err := strconv.ParseBool(f)
		if err != nil {
			return meshdock.Errorf(meshdock.EINVALID, "force must be true or false, not %s", meshdock.QuoteName(f))
		}
		req.Force = force
	}
	op, err := h.StartMeshUninstall(c.Request().Context(), c.Param("name"), req)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", apiPrefix+"/operations/"+op.ID)
	return c.JSON(http.StatusAccepted, map[string]any{"operation": op})
}
