package backend

import (
	"context"
	"net/http"
	"runtime"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meshdock/meshdock"
)

func (h *handlers) health(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

type infoView struct {
	Version  string       `json:"version"`
	Go       string       `json:"go"`
	Engine   engineView   `json:"engine"`
	Clusters clustersView `json:"clusters"`
}

type engineView struct {
	Reachable bool   `json:"reachable"`
	Version   string `json:"version,omitempty"`
	Error     string `json:"error,omitempty"`
}

// clustersView says what the kubeconfig the server would use holds (the
// files of $KUBECONFIG, or ~/.kube/config, as kubectl finds them): its
// contexts, never where it is, since no path of the server's disk is a
// client's business. It does not contact any cluster.
type clustersView struct {
	Configured     bool   `json:"configured"`
	Contexts       int    `json:"contexts"`
	CurrentContext string `json:"currentContext,omitempty"`
	// Posted is true when the kubeconfig was posted by a client.
	Posted bool   `json:"posted,omitempty"`
	Error  string `json:"error,omitempty"`
}

func (h *handlers) info(c echo.Context) error {
	v := infoView{Version: h.version, Go: runtime.Version(), Clusters: h.kubeconfigs()}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if ei, err := h.engine.Info(ctx); err != nil {
		v.Engine.Error = meshdock.ErrorMessage(err)
	} else {
		v.Engine = engineView{Reachable: true, Version: ei.Version}
	}
	return c.JSON(http.StatusOK, v)
}

// kubeconfigs says what the kubeconfig in use holds (a posted one, or
// this machine's).
func (h *handlers) kubeconfigs() clustersView {
	n, current, posted, err := h.clusters.Summary()
	v := clustersView{Contexts: n, CurrentContext: current, Configured: n > 0, Posted: posted}
	if err != nil {
		v.Error = meshdock.ErrorMessage(err)
	}
	return v
}
