package backend

import (
	"context"
	"net/http"
	"runtime"
	"time"

	"github.com/labstack/echo/v4"
	"k8s.io/client-go/tools/clientcmd"

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
	Error          string `json:"error,omitempty"`
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

// kubeconfigs reads the kubeconfig files. A file that cannot be read is
// reported without the parser's words, which may quote the file (tokens,
// keys): those go to the server's log.
func (h *handlers) kubeconfigs() clustersView {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	var v clustersView
	cfg, err := rules.Load()
	if err != nil {
		h.log.Warn("cannot read the kubeconfig", "files", rules.GetLoadingPrecedence(), "err", err)
		v.Error = "a kubeconfig file cannot be read: the server's log says why"
		return v
	}
	v.Contexts, v.CurrentContext = len(cfg.Contexts), cfg.CurrentContext
	v.Configured = v.Contexts > 0
	return v
}
