package backend

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

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
