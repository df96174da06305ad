package backend

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/engine"
	"github.com/meshdock/meshdock/meshes"
)

// Store is what the backend needs of the store; *store.DB implements it.
type Store = app.Store

// Config is what a Server is built from.
type Config struct {
	Store   Store
	Engine  engine.Engine
	Version string
	Logger  *slog.Logger
	Limits  Limits
	// Heartbeat is how often an idle event stream sends a comment, so that
	// proxies and browsers keep it open; 0 means 15 seconds.
	Heartbeat time.Duration
	// DataDir is the directory of the store and Home the home directory of
	// the user the server runs as: a folder import never reads either (nor
	// the data directory's contents, nor a folder above either of them).
	DataDir, Home string
	// MeshCharts is where mesh installs take their charts from.
	MeshCharts meshes.Source
	// Clusters is the kubeconfig in use; nil means this machine's, and a
	// posted one kept in DataDir.
	Clusters *app.Clusters
	// LoadgenImage is the in-cluster load generator's image
	// (app.DefaultLoadgenImage).
	LoadgenImage string
}

// Server is the API. Build it with New, serve Handler on each listener and
// call Shutdown when stopping.
type Server struct {
	*app.Service
	store     Store
	engine    engine.Engine
	clusters  *app.Clusters
	version   string
	log       *slog.Logger
	limits    Limits
	heartbeat time.Duration
	streams   streams
	// loadgenImage: see Config.
	loadgenImage string

	// done is closed by Shutdown; event streams end when it is.
	done     chan struct{}
	doneOnce sync.Once
}

// New returns a Server. It does not touch the store: call Start first.
func New(cfg Config) *Server {
	s := &Server{store: cfg.Store, engine: cfg.Engine, version: cfg.Version, log: cfg.Logger,
		limits: cfg.Limits.orDefaults(), heartbeat: cfg.Heartbeat, done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.engine == nil {
		s.engine = engine.Unavailable{Reason: "none configured"}
	}
	if s.heartbeat == 0 {
		s.heartbeat = 15 * time.Second
	}
	if s.version == "" {
		s.version = "dev"
	}
	s.clusters = cfg.Clusters
	s.loadgenImage = cfg.LoadgenImage
	if s.clusters == nil {
		s.clusters = app.NewClusters(app.ClustersConfig{DataDir: cfg.DataDir, Logger: s.log})
	}
	s.Service = app.New(app.Config{Store: s.store, Engine: s.engine, Clusters: s.clusters, Logger: s.log,
		DataDir: cfg.DataDir, Home: cfg.Home, MeshCharts: cfg.MeshCharts, Limits: app.Limits{Imports: s.limits.Imports, ImportTimeout: s.limits.ImportTimeout,
			Files: s.limits.Files, FileSize: s.limits.FileSize, Total: s.limits.Body}})
	s.streams.perOp = map[string]int{}
	return s
}

// Shutdown ends event streams, cancels operations in flight and marks them
// interrupted. Call it before http.Server.Shutdown, which would otherwise
// wait for the streams.
func (s *Server) Shutdown(ctx context.Context) error {
	s.doneOnce.Do(func() { close(s.done) })
	return s.Service.Shutdown(ctx)
}

// Listener says which kind of listener a Handler serves; the rules differ.
type Listener struct {
	// TCP is true for a loopback TCP listener (standalone use): the Host
	// and Origin checks apply, since a browser on this machine can reach it.
	TCP bool
	// AllowDir allows importing a project folder of the server's disk (see
	// projectDir for the folders that are refused all the same): whoever
	// can reach the listener can then make the server read any folder it
	// can read.
	AllowDir bool
	// AllowClusters lets a TCP listener use the server's clusters: list
	// the contexts of its kubeconfig, take a posted one, deploy and
	// delete. The socket always may (Docker Desktop alone reaches it).
	AllowClusters bool
}

// Handler returns the API for one listener:
//
//	GET    /api/v1/health                    {"status":"ok"}
//	GET    /api/v1/info                      version, engine, kubeconfig contexts
//	GET    /api/v1/apps                      {"apps":[summary...]}
//	POST   /api/v1/apps                      import (ImportRequest as JSON or a form) -> 201 app
//	GET    /api/v1/apps/{id}                 app: files, warnings, graph
//	DELETE /api/v1/apps/{id}                 204
//	GET    /api/v1/apps/{id}/manifests       ?format=yaml (download, default) or json (v1/List)
//	GET    /api/v1/apps/{id}/warnings        {"warnings":[...]}
//	GET    /api/v1/apps/{id}/graph           {"nodes":[...],"edges":[...]}
//	GET    /api/v1/apps/{id}/paths           {"paths":[...]}: who reaches whom on which port, and why
//	GET    /api/v1/apps/{id}/export          ?format=kustomize|helm&mesh=&authz=&archive=tar|zip: a download
//	GET    /api/v1/compose-projects          {"projects":[...]} from the Docker Engine
//	GET    /api/v1/clusters                  {"clusters":[...]}: contexts, reachable, version, kind
//	GET    /api/v1/meshes?context=           {"meshes":[...]}: each mesh installed, version, health
//	POST   /api/v1/meshes/{name}/install     app.MeshRequest (or none) -> 202 {operation}: install or upgrade
//	DELETE /api/v1/meshes/{name}             ?context=&force=true -> 202 {operation}: uninstall
//	POST   /api/v1/clusters/kubeconfig       a kubeconfig (YAML or JSON body) -> {"contexts":[...]}
//	DELETE /api/v1/clusters/kubeconfig       204: this machine's kubeconfig again
//	POST   /api/v1/apps/{id}/deployments     app.DeployRequest -> 202 {deployment, operation}
//	GET    /api/v1/apps/{id}/deployments     {"deployments":[...]}
//	GET    /api/v1/apps/{id}/deployments/{d} deployment: objects, workloads, URLs, last operation
//	DELETE /api/v1/apps/{id}/deployments/{d} ?volumes=true -> 202 {deployment, operation}
//	GET    /api/v1/operations/{id}           operation
//	POST   /api/v1/operations/{id}/cancel    202
//	GET    /api/v1/operations/{id}/events    text/event-stream; resumes after Last-Event-ID
//	GET    /api/v1/operations/{id}/log       ?lastEventId=&wait=10s {"events":[...],"done"}: the same as JSON, long-polled
//	POST   /api/v1/benchmarks                a test (meshdock.BenchmarkSpec) or {"profile"} -> 202 {benchmark, operation}
//	GET    /api/v1/benchmarks                ?limit= {"benchmarks":[...]}, newest first
//	GET    /api/v1/benchmarks/{id}           benchmark: spec, state, target, mesh, summary
//	DELETE /api/v1/benchmarks/{id}           204
//	GET    /api/v1/benchmarks/{id}/smp       ?format=json|yaml: Service Mesh Performance v0.6
//	GET    /api/v1/benchmarks/{id}/fortio    fortio's own JSON (its report UI loads it)
//	POST   /api/v1/benchmarks/compare        {"a","b"} -> comparison, or {"spec","namespaces":[base, mesh]} -> 202 {benchmarks, operation}
//	GET    /api/v1/benchmark-profiles        {"profiles":[...]}
//	GET    /api/v1/benchmark-profiles/{name} profile
//	PUT    /api/v1/benchmark-profiles/{name} {"spec"} -> profile
//	DELETE /api/v1/benchmark-profiles/{name} 204
//
// Every GET answers HEAD as well.
// Errors are {"error":{"code","message"}} with the status of statusOf.
//
// On the loopback port (TCP), a POST or DELETE must come from the server's
// own page (Origin, or Sec-Fetch-Site same-origin) or carry the header
// "X-Meshdock: 1" (ClientHeader): a program such as curl adds it, a page of
// another site cannot. The socket asks for neither.
func (s *Server) Handler(l Listener) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Pre(s.logRequests, s.recoverPanics, s.limitWrite)
	if l.TCP {
		e.Pre(checkHost, checkOrigin)
	}
	e.Use(checkQuery, refuseEncodedBodies, s.limitBody, s.detach)
	h := &handlers{Server: s, allowDir: l.AllowDir, allowClusters: !l.TCP || l.AllowClusters, tcp: l.TCP, exports: make(chan struct{}, MaxExports)}
	api := e.Group(apiPrefix)
	// Every GET answers HEAD too: the same status and headers, no body
	// (net/http drops what a handler writes to a HEAD).
	get := func(path string, h echo.HandlerFunc) { api.Match([]string{http.MethodGet, http.MethodHead}, path, h) }
	get("/health", h.health)
	get("/info", h.info)
	get("/apps", h.listApps)
	api.POST(strings.TrimPrefix(importPath, apiPrefix), h.createApp)
	get("/apps/:id", h.getApp)
	api.DELETE("/apps/:id", h.deleteApp)
	get("/apps/:id/manifests", h.manifests)
	get("/apps/:id/warnings", h.warnings)
	get("/apps/:id/graph", h.graph)
	get("/apps/:id/paths", h.paths)
	get("/apps/:id/export", h.export)
	get("/compose-projects", h.composeProjects)
	get("/clusters", h.listClusters)
	get("/meshes", h.listMeshes)
	api.POST("/meshes/:name/install", h.installMesh)
	api.DELETE("/meshes/:name", h.uninstallMesh)
	api.POST("/clusters/kubeconfig", h.postKubeconfig)
	api.DELETE("/clusters/kubeconfig", h.deleteKubeconfig)
	api.POST("/apps/:id/deployments", h.createDeployment)
	get("/apps/:id/deployments", h.listDeployments)
	get("/apps/:id/deployments/:dep", h.getDeployment)
	api.DELETE("/apps/:id/deployments/:dep", h.deleteDeployment)
	get("/operations/:id", h.getOperation)
	api.POST("/operations/:id/cancel", h.cancelOperation)
	get(strings.TrimPrefix(eventsPath, apiPrefix), h.operationEvents)
	get(strings.TrimPrefix(logPath, apiPrefix), h.operationLog)
	api.POST("/benchmarks", h.createBenchmark)
	get("/benchmarks", h.listBenchmarks)
	api.POST("/benchmarks/compare", h.compareBenchmarks)
	get("/benchmarks/:id", h.getBenchmark)
	api.DELETE("/benchmarks/:id", h.deleteBenchmark)
	get("/benchmarks/:id/smp", h.benchmarkSMP)
	get("/benchmarks/:id/fortio", h.benchmarkFortio)
	get("/benchmark-profiles", h.listProfiles)
	get("/benchmark-profiles/:name", h.getProfile)
	api.PUT("/benchmark-profiles/:name", h.putProfile)
	api.DELETE("/benchmark-profiles/:name", h.deleteProfile)
	// The web UI: its page and its assets; every other path is the API's
	// (its 404 and 405 as they were).
	for _, p := range []string{"/", "/index.html", "/assets/*"} {
		e.Match([]string{http.MethodGet, http.MethodHead}, p, h.serveUI)
	}
	return e
}

// The routes some middleware tells apart.
const (
	apiPrefix      = "/api/v1"
	importPath     = apiPrefix + "/apps"
	eventsPath     = apiPrefix + "/operations/:id/events"
	logPath        = apiPrefix + "/operations/:id/log"
	kubeconfigPath = apiPrefix + "/clusters/kubeconfig"
)

// handlers are the route handlers of one listener.
type handlers struct {
	*Server
	allowDir, allowClusters, tcp bool
	// exports bounds the exports made at once (each renders the app once
	// per choice it covers).
	exports chan struct{}
}

// MaxExports is how many exports are made at once; one more is refused
// as busy.
const MaxExports = 2
