// Package app holds meshdock's use cases: import a compose app, deploy it
// into a cluster, delete it, and the operations that carry long work. The
// HTTP API (backend) and the command line (cmd/meshdock) are shells over
// these calls: they decode and print, and this package does the work. It
// speaks to the outside worlds only through their adapters (store, engine,
// kube) and knows nothing of HTTP or flags.
package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/dirguard"
	"github.com/meshdock/meshdock/engine"
	"github.com/meshdock/meshdock/meshes"
	"github.com/meshdock/meshdock/store"
)

// Store is what the use cases need of the store; *store.DB implements it.
type Store interface {
	CreateApp(ctx context.Context, a *store.App) error
	App(ctx context.Context, id string) (*store.App, error)
	Apps(ctx context.Context) ([]store.AppSummary, error)
	DeleteApp(ctx context.Context, id string) error

	CreateOperation(ctx context.Context, kind, appID string) (*store.Operation, error)
	Operation(ctx context.Context, id string) (*store.Operation, error)
	AppendEvent(ctx context.Context, opID, typ string, data any) (store.Event, error)
	FinishOperation(ctx context.Context, opID string, state store.State, errMsg string) (store.Event, error)
	Events(ctx context.Context, opID string, after int64, limit int) ([]store.Event, error)
	InterruptRunning(ctx context.Context, reason string) (int, error)

	CreateDeployment(ctx context.Context, d *meshdock.Deployment) error
	UpdateDeployment(ctx context.Context, d *meshdock.Deployment) error
	Deployment(ctx context.Context, id string) (*meshdock.Deployment, error)
	DeploymentAt(ctx context.Context, kubeContext, namespace string) (*meshdock.Deployment, error)
	Deployments(ctx context.Context, appID string) ([]*meshdock.Deployment, error)
	DeleteDeployment(ctx context.Context, id string) error

	CreateBenchmark(ctx context.Context, b *meshdock.Benchmark) error
	UpdateBenchmark(ctx context.Context, b *meshdock.Benchmark, result []byte) error
	Benchmark(ctx context.Context, id string) (*meshdock.Benchmark, error)
	BenchmarkResult(ctx context.Context, id string) ([]byte, error)
	Benchmarks(ctx context.Context, limit int) ([]*meshdock.Benchmark, error)
	DeleteBenchmark(ctx context.Context, id string) error
	SaveProfile(ctx context.Context, p *meshdock.BenchProfile) error
	Profile(ctx context.Context, name string) (*meshdock.BenchProfile, error)
	Profiles(ctx context.Context) ([]*meshdock.BenchProfile, error)
	DeleteProfile(ctx context.Context, name string) error
}

// Limits bound the work of imports. A zero field takes its default.
type Limits struct {
	// Imports is how many imports may run at once (4); one more is
	// refused as busy rather than queued.
	Imports int
	// ImportTimeout bounds one import, from reading its source to storing
	// it (30 s).
	ImportTimeout time.Duration
	// What a folder import may bring, as an upload may: files (200), the
	// size of one (1 MiB) and of all together (5 MiB).
	Files    int
	FileSize int
	Total    int64
}

func (l Limits) orDefaults() Limits {
	if l.Imports == 0 {
		l.Imports = 4
	}
	if l.ImportTimeout == 0 {
		l.ImportTimeout = 30 * time.Second
	}
	if l.Files == 0 {
		l.Files = 200
	}
	if l.FileSize == 0 {
		l.FileSize = 1 << 20
	}
	if l.Total == 0 {
		l.Total = 5 << 20
	}
	return l
}

// Config is what a Service is built from.
type Config struct {
	Store    Store
	Engine   engine.Engine
	Clusters *Clusters
	Logger   *slog.Logger
	Limits   Limits
	// DataDir is the directory of the store and Home the home directory of
	// the user the server runs as: a folder import never reads either (nor
	// the data directory's contents, nor a folder above either of them).
	DataDir, Home string
	// MeshCharts is where mesh installs take their charts from (by
	// default each mesh's Helm repository, fetched into Cache).
	MeshCharts meshes.Source
}

// Service runs the use cases. Build it with New; it is safe for
// concurrent use.
type Service struct {
	store    Store
	engine   engine.Engine
	clusters *Clusters
	log      *slog.Logger
	limits   Limits
	ops      *operations
	imports  chan struct{} // a slot per import running
	guarded  dirguard.Guard
	deploys  *deploys
	benches  benchmarks
	// meshCharts: see Config.
	meshCharts meshes.Source
}

// New returns a Service. It does not touch the store: call Start first.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, engine: cfg.Engine, clusters: cfg.Clusters, log: cfg.Logger, limits: cfg.Limits.orDefaults(), meshCharts: cfg.MeshCharts}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.engine == nil {
		s.engine = engine.Unavailable{Reason: "none configured"}
	}
	if s.clusters == nil {
		s.clusters = NewClusters(ClustersConfig{Logger: s.log})
	}
	s.ops = newOperations(s.store, s.log)
	s.imports = make(chan struct{}, s.limits.Imports)
	s.guarded = dirguard.New(cfg.DataDir, cfg.Home, "the server's")
	s.deploys = newDeploys()
	return s
}

// Start prepares the store for serving: operations left running by a
// previous process are marked interrupted, since nothing runs them now.
func (s *Service) Start(ctx context.Context) error {
	n, err := s.store.InterruptRunning(ctx, "the server stopped while it ran")
	if n > 0 {
		s.log.Info("marked operations of a previous run interrupted", "count", n)
	}
	return err
}

// Shutdown cancels operations in flight, stops the port-forwards and marks
// what did not end in time interrupted.
func (s *Service) Shutdown(ctx context.Context) error {
	err := s.ops.shutdown(ctx)
	s.deploys.stopForwards()
	return err
}

// Stopping is canceled when Shutdown begins, for work that must end with
// the service (requests detached from their clients).
func (s *Service) Stopping() context.Context { return s.ops.ctx }

// Engine is the Docker Engine the service uses.
func (s *Service) Engine() engine.Engine { return s.engine }

// Store is the store the service uses.
func (s *Service) Store() Store { return s.store }
