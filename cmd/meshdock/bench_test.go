package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// builtBinary builds meshdock as a release is built (see the Makefile), so
// start-up is measured on the real thing, not on the test binary.
func builtBinary(b *testing.B) string {
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "meshdock-bench-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "meshdock")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		b.Fatal(binErr)
	}
	b.Cleanup(func() {}) // the binary is removed with its directory by the OS's temp cleaning
	return binPath
}

func freePort(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startReady starts the binary on a fresh store and returns it once
// /api/v1/health answers, with the time that took from the process start.
func startReady(b *testing.B, bin string) (*exec.Cmd, time.Duration) {
	addr := freePort(b)
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data", b.TempDir())
	client := &http.Client{Timeout: time.Second}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	for {
		resp, err := client.Get("http://" + addr + "/api/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, time.Since(start)
			}
		}
		if time.Since(start) > 10*time.Second {
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatalf("not ready after 10s: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkServeReady measures the time from starting `meshdock serve` to
// /api/v1/health answering; the goal is 150 ms.
func BenchmarkServeReady(b *testing.B) {
	bin := builtBinary(b)
	var times []time.Duration
	b.ResetTimer()
	for range b.N {
		cmd, took := startReady(b, bin)
		b.StopTimer()
		times = append(times, took)
		cmd.Process.Kill()
		cmd.Wait()
		b.StartTimer()
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-ready-p50")
	b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "ms-ready-max")
}

// BenchmarkServeIdleRSS reports the resident memory of an idle server a
// second after it became ready; the goal is 30 MB.
func BenchmarkServeIdleRSS(b *testing.B) {
	bin := builtBinary(b)
	var rss float64
	for range b.N {
		cmd, _ := startReady(b, bin)
		time.Sleep(time.Second)
		kb, err := vmRSS(cmd.Process.Pid)
		cmd.Process.Kill()
		cmd.Wait()
		if err != nil {
			b.Skipf("cannot read the resident size: %v", err)
		}
		rss = max(rss, float64(kb)/1024)
	}
	b.ReportMetric(rss, "MB-idle-RSS")
}

func vmRSS(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
