package backend

import (
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/store"
)

// errNoClusters answers a cluster request on a listener that may not use
// the server's clusters.
var errNoClusters = meshdock.Errorf(meshdock.EFORBIDDEN,
	"clusters are not used on this port (start meshdock serve with --allow-clusters on a loopback address)")

func (h *handlers) clustersAllowed() error {
	if !h.allowClusters {
		return errNoClusters
	}
	return nil
}

// kubeconfigAllowed: a posted kubeconfig replaces the clusters every
// client of the server deploys to, so only the socket (Docker Desktop's UI)
// may post one; on the loopback port the machine's kubeconfig is used.
func (h *handlers) kubeconfigAllowed() error {
	if h.tcp {
		return meshdock.Errorf(meshdock.EFORBIDDEN, "a kubeconfig is posted only over the socket; on this port the server uses this machine's kubeconfig ($KUBECONFIG or ~/.kube/config)")
	}
	return nil
}

// started is the answer to a request that started an operation.
type started struct {
	Deployment *meshdock.Deployment `json:"deployment"`
	Operation  *store.Operation     `json:"operation"`
}

func (h *handlers) listClusters(c echo.Context) error {
	if err := h.clustersAllowed(); err != nil {
		return err
	}
	list, err := h.clusters.List(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"clusters": list})
}

// postKubeconfig keeps a kubeconfig the client sends as the body (YAML or
// JSON, as kubectl config view --minify --flatten prints it). The answer
// names its contexts; the kubeconfig itself is never sent back nor logged.
func (h *handlers) postKubeconfig(c echo.Context) error {
	if err := h.kubeconfigAllowed(); err != nil {
		return err
	}
	data, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return bodyError(err, "cannot read the body")
	}
	contexts, err := h.clusters.SetKubeconfig(data)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"contexts": contexts})
}

func (h *handlers) deleteKubeconfig(c echo.Context) error {
	if err := h.kubeconfigAllowed(); err != nil {
		return err
	}
	if err := h.clusters.ForgetKubeconfig(); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *handlers) createDeployment(c echo.Context) error {
	if err := h.clustersAllowed(); err != nil {
		return err
	}
	var req app.DeployRequest
	if err := decodeJSON(c.Request().Body, &req, deployKeys); err != nil {
		return err
	}
	dep, op, err := h.StartDeploy(c.Request().Context(), c.Param("id"), req)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", apiPrefix+"/operations/"+op.ID)
	return c.JSON(http.StatusAccepted, started{dep, op})
}

func (h *handlers) listDeployments(c echo.Context) error {
	if err := h.clustersAllowed(); err != nil {
		return err
	}
	list, err := h.Deployments(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"deployments": list})
}

func (h *handlers) getDeployment(c echo.Context) error {
	if err := h.clustersAllowed(); err != nil {
		return err
	}
	d, err := h.Deployment(c.Request().Context(), c.Param("id"), c.Param("dep"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// deleteDeployment removes the deployment's objects from the cluster; its
// claims stay unless ?volumes=true.
func (h *handlers) deleteDeployment(c echo.Context) error {
	if err := h.clustersAllowed(); err != nil {
		return err
	}
	volumes := false
	if v := c.QueryParam("volumes"); v != "" {
		var err error
		if volumes, err = strconv.ParseBool(v); err != nil {
			return meshdock.Errorf(meshdock.EINVALID, "volumes must be true or false, not %s", quoteName(v))
		}
	}
	dep, op, err := h.StartDelete(c.Request().Context(), c.Param("id"), c.Param("dep"), volumes)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", apiPrefix+"/operations/"+op.ID)
	return c.JSON(http.StatusAccepted, started{dep, op})
}

func (h *handlers) cancelOperation(c echo.Context) error {
	// Deploys, deletes and mesh operations use the clusters; a load test
	// may run without them.
	if op, err := h.store.Operation(c.Request().Context(), c.Param("id")); err != nil {
		return err
	} else if op.Kind != "benchmark" {
		if err := h.clustersAllowed(); err != nil {
			return err
		}
	}
	if err := h.CancelOperation(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}
