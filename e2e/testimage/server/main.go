// Command server is the program inside meshdock's test image: a small HTTP
// server whose answers and delays tests control, so compose projects and
// benchmarks have something real to talk to without pulling any image.
//
//	GET /healthz          200 "ok"
//	GET /?delay=50ms      200 with the host name and request, after the delay
//
// It listens on $PORT (default 8080); $DELAY is a delay for every request to
// /, added to the query's. $NAME, if set, is echoed in the answers.
// `server healthcheck` asks a running server's /healthz and exits 0 or 1: the
// image has no shell or curl for a compose healthcheck to call.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// maxDelay bounds a requested delay, so a typo cannot hang a test.
const maxDelay = time.Minute

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck("http://127.0.0.1:" + port + "/healthz"))
	}
	base, err := parseDelay(os.Getenv("DELAY"))
	if err != nil {
		log.Fatalf("DELAY: %v", err)
	}
	srv := &http.Server{
		Addr:              ":" + port,
		Handler:           handler(os.Getenv("NAME"), base),
		ReadHeaderTimeout: 10 * time.Second,
	}
	// A container is stopped with SIGTERM; finishing in-flight requests
	// keeps `docker compose down` quick and clean.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("listening on :%s", port)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func healthcheck(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		log.Print(err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		log.Printf("%s: %s", url, resp.Status)
		return 1
	}
	return 0
}

func handler(name string, base time.Duration) http.Handler {
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		extra, err := parseDelay(r.URL.Query().Get("delay"))
		if err != nil {
			http.Error(w, "delay: "+err.Error(), http.StatusBadRequest)
			return
		}
		delay := min(base+extra, maxDelay)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"name":    name,
			"host":    host,
			"method":  r.Method,
			"path":    r.URL.Path,
			"delayed": delay.String(),
		})
	})
	return mux
}

func parseDelay(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, errors.New("negative")
	}
	return d, nil
}
