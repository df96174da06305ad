package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
	"github.com/meshdock/meshdock/backend"
	"github.com/meshdock/meshdock/engine"
	"github.com/meshdock/meshdock/store"
)

func init() {
	commands["serve"] = command{summary: "serve the API on a unix socket and/or a loopback port", run: runServe}
}

// serveFlags are the options of `meshdock serve`.
type serveFlags struct {
	socket, addr, data, example, dockerHost string
	loadgenImage                            string
	allowDir, allowClusters, inContainer    bool
	dataGiven                               bool // --data was given: the directory may not be meshdock's alone
	charts                                  chartFlags
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serveFlags
	fs.StringVar(&f.socket, "socket", "", "listen on this unix socket (the Docker Desktop extension uses /run/guest-services/meshdock.sock)")
	fs.StringVar(&f.addr, "addr", "", "listen on this loopback address (default 127.0.0.1:7878 when no --socket is given)")
	fs.StringVar(&f.data, "data", defaultDataDir(), "directory of the store")
	fs.BoolVar(&f.allowDir, "allow-dir", false, "on the loopback port, allow importing a project folder of this machine. Whoever can reach the port can\n"+
		"then make the server read any folder it can read, except /, system folders (/etc, /proc...), its data\n"+
		"directory and its home, and the folders above them. Never on the socket")
	fs.BoolVar(&f.allowClusters, "allow-clusters", false, "on the loopback port, allow deploying into the clusters of this machine's kubeconfig ($KUBECONFIG or\n"+
		"~/.kube/config), which builds the apps' images with this machine's Docker Engine: whoever can reach the\n"+
		"port can then deploy with those credentials and build images. The socket always allows it (and only the\n"+
		"socket takes a posted kubeconfig)")
	fs.BoolVar(&f.inContainer, "in-container", false, "the server runs in a container (the Docker Desktop extension): use only a posted kubeconfig, and\n"+
		"reach API servers on the host's loopback through host.docker.internal")
	f.charts.register(fs)
	fs.StringVar(&f.example, "example", "", "import the compose app in this directory when the store is empty")
	fs.StringVar(&f.loadgenImage, "loadgen-image", app.DefaultLoadgenImage, "image of the in-cluster load generator (meshdock's own, which runs meshdock loadgen)")
	fs.StringVar(&f.dockerHost, "docker-host", "", "Docker Engine address (default $DOCKER_HOST, else the default socket)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meshdock serve [--socket PATH] [--addr 127.0.0.1:7878] [--data DIR] [--allow-dir] [--allow-clusters] [--example DIR]")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	fs.Visit(func(fl *flag.Flag) { f.dataGiven = f.dataGiven || fl.Name == "data" })
	if f.socket == "" && f.addr == "" {
		f.addr = "127.0.0.1:7878"
	}
	if f.addr != "" {
		if err := backend.CheckLoopback(f.addr); err != nil {
			fmt.Fprintf(stderr, "meshdock serve: --addr: %s\n", meshdock.ErrorMessage(err))
			return exitUsage
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := serve(ctx, f, stdout, log); err != nil {
		fmt.Fprintf(stderr, "meshdock serve: %s\n", meshdock.ErrorMessage(err))
		if meshdock.ErrorCode(err) == meshdock.EINTERNAL {
			log.Error("serve failed", "err", err)
		}
		return exitError
	}
	return exitOK
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "meshdock")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "meshdock")
	}
	return "meshdock-data"
}

func serve(ctx context.Context, f serveFlags, stdout io.Writer, log *slog.Logger) error {
	db, err := store.Open(ctx, filepath.Join(f.data, "meshdock.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := privateDataDir(f, log); err != nil {
		return err
	}
	eng, err := engine.New(f.dockerHost)
	if err != nil {
		return err
	}
	home, _ := os.UserHomeDir() // none known: only the other folders are refused
	clusters := app.NewClusters(app.ClustersConfig{DataDir: f.data, InContainer: f.inContainer, NoDefault: f.inContainer, Logger: log})
	srv := backend.New(backend.Config{Store: db, Engine: eng, Version: version, Logger: log, DataDir: f.data, Home: home, Clusters: clusters,
		MeshCharts: f.charts.source(), LoadgenImage: f.loadgenImage})
	if err := srv.Start(ctx); err != nil {
		return err
	}
	if f.example != "" {
		if _, err := srv.ImportIfEmpty(ctx, f.example); err != nil {
			return err
		}
	}
	var ls []backend.Listening
	var urls []string
	if f.socket != "" {
		l, err := backend.ListenSocket(f.socket)
		if err != nil {
			return err
		}
		defer os.Remove(f.socket)
		ls, urls = append(ls, backend.Listening{Net: l}), append(urls, "unix:"+f.socket)
	}
	if f.addr != "" {
		l, err := backend.ListenLoopback(f.addr)
		if err != nil {
			return err
		}
		ls = append(ls, backend.Listening{Net: l, Listener: backend.Listener{TCP: true, AllowDir: f.allowDir, AllowClusters: f.allowClusters}})
		urls = append(urls, "http://"+l.Addr().String()+"/")
	}
	go releaseStartupMemory()
	for _, u := range urls {
		fmt.Fprintf(stdout, "meshdock %s: serving on %s\n", version, u)
	}
	return srv.Serve(ctx, ls...)
}

// privateDataDir makes the default data directory readable by its owner
// only, whatever else it holds: it is meshdock's own, and the store keeps
// uploaded secrets in it. A directory given with --data is the user's;
// store.Open tightens it only when it holds nothing but the store, so here
// a directory left open to others is only reported. Call it once the store
// is open, which creates the directory.
func privateDataDir(f serveFlags, log *slog.Logger) error {
	if !f.dataGiven {
		if err := os.Chmod(f.data, 0o700); err != nil {
			return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cannot make the data directory %s private: %v", f.data, err)
		}
		return nil
	}
	if fi, err := os.Stat(f.data); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the data directory can be entered by other users; the store's files are private all the same",
			"dir", f.data, "mode", fi.Mode().Perm().String())
	}
	return nil
}

// releaseStartupMemory hands the garbage of start-up (package initialisation
// compiles the compose schema and registers every Kubernetes type; the
// listeners and a first import add more) back to the OS once start-up has
// settled, instead of the minutes the runtime's scavenger would take: an
// idle server should be small (measured: 3-4 MB less resident memory).
func releaseStartupMemory() {
	time.Sleep(300 * time.Millisecond)
	debug.FreeOSMemory()
}
