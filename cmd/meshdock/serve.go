package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/backend"
	"github.com/meshdock/meshdock/engine"
	"github.com/meshdock/meshdock/store"
)

func init() {
	commands["serve"] = command{summary: "serve the API and UI on a unix socket and/or a loopback port", run: runServe}
}

// serveFlags are the options of `meshdock serve`.
type serveFlags struct {
	socket, addr, data, example, dockerHost string
	allowDir                                bool
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serveFlags
	fs.StringVar(&f.socket, "socket", "", "listen on this unix socket (the Docker Desktop extension uses /run/guest-services/meshdock.sock)")
	fs.StringVar(&f.addr, "addr", "", "listen on this loopback address (default 127.0.0.1:7878 when no --socket is given)")
	fs.StringVar(&f.data, "data", defaultDataDir(), "directory of the store")
	fs.BoolVar(&f.allowDir, "allow-dir", true, "on the loopback port, allow importing a directory of this machine (never on the socket)")
	fs.StringVar(&f.example, "example", "", "import the compose app in this directory when the store is empty")
	fs.StringVar(&f.dockerHost, "docker-host", "", "Docker Engine address (default $DOCKER_HOST, else the default socket)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meshdock serve [--socket PATH] [--addr 127.0.0.1:7878] [--data DIR] [--allow-dir] [--example DIR]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "meshdock serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if f.socket == "" && f.addr == "" {
		f.addr = "127.0.0.1:7878"
	}
	if f.addr != "" {
		if err := checkLoopback(f.addr); err != nil {
			fmt.Fprintf(stderr, "meshdock serve: %v\n", err)
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

// checkLoopback refuses addresses other machines could reach: the API has
// no authentication, its safety is that only this machine can talk to it.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--addr %q is not a loopback address: meshdock has no authentication and listens only on 127.0.0.1, [::1] or localhost", addr)
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
	eng, err := engine.New(f.dockerHost)
	if err != nil {
		return err
	}
	srv := backend.New(backend.Config{Store: db, Engine: eng, Version: version, Logger: log})
	if err := srv.Start(ctx); err != nil {
		return err
	}
	if f.example != "" {
		if err := importExample(ctx, srv, db, f.example, log); err != nil {
			return err
		}
	}

	var servers []*http.Server
	errc := make(chan error, 2)
	start := func(l net.Listener, h http.Handler, url string) {
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		servers = append(servers, hs)
		go func() { errc <- hs.Serve(l) }()
		fmt.Fprintf(stdout, "meshdock %s: serving on %s\n", version, url)
	}
	if f.socket != "" {
		l, err := listenSocket(f.socket)
		if err != nil {
			return err
		}
		defer os.Remove(f.socket)
		start(l, srv.Handler(backend.Listener{}), "unix:"+f.socket)
	}
	if f.addr != "" {
		l, err := net.Listen("tcp", f.addr)
		if err != nil {
			return meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cannot listen on %s: %v", f.addr, err)
		}
		start(l, srv.Handler(backend.Listener{TCP: true, AllowDir: f.allowDir}), "http://"+l.Addr().String()+"/")
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		log.Error("a listener failed", "err", err)
	}
	log.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx) // ends event streams and operations first
	for _, hs := range servers {
		err = errors.Join(err, hs.Shutdown(sctx))
	}
	return err
}

// listenSocket listens on a unix socket readable and writable by its owner
// and group only. A stale socket file left by a killed server is replaced;
// one that still answers is not.
func listenSocket(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, meshdock.Errorf(meshdock.ECONFLICT, "%s is in use by another server", path)
		}
		os.Remove(path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cannot create the directory of %s: %v", path, err)
	}
	// The umask makes the socket 0660 from the start: a chmod after
	// listening would leave a moment when others could connect.
	old := syscall.Umask(0o117)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cannot listen on %s: %v", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// importExample imports the compose app in dir when the store has no app
// yet, so a first start shows something.
func importExample(ctx context.Context, srv *backend.Server, db *store.DB, dir string, log *slog.Logger) error {
	apps, err := db.Apps(ctx)
	if err != nil || len(apps) > 0 {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	app, err := srv.Import(ctx, backend.ImportRequest{Dir: abs}, true)
	if err != nil {
		return meshdock.Wrap(meshdock.ErrorCode(err), err, "import the example %s: %s", dir, meshdock.ErrorMessage(err))
	}
	log.Info("imported the example app", "name", app.Name, "id", app.ID)
	return nil
}
