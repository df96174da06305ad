package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
)

func workload(name string, ready int32, done bool, problems ...meshdock.PodProblem) meshdock.WorkloadState {
	return meshdock.WorkloadState{ObjectRef: meshdock.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: name},
		Ready: ready, Desired: 1, Done: done, Problems: problems}
}

// On a terminal each workload keeps one line, rewritten in place, below
// the other events; elsewhere every change is a line of its own.
func TestProgressOnATerminal(t *testing.T) {
	var out bytes.Buffer
	p := &progress{w: &out, tty: true, index: map[string]int{}}
	p.emit(app.EventWorkload, workload("api", 0, false))
	p.emit(app.EventWorkload, workload("web", 0, false))
	p.emit(app.EventWorkload, workload("api", 0, false, meshdock.PodProblem{Pod: "api-1", Reason: "ImagePullBackOff"}))
	p.emit(app.EventURL, meshdock.URL{Service: "web", Port: 8080, URL: "http://localhost:8080", Via: "loadbalancer"})
	p.emit(app.EventWorkload, workload("api", 1, true))
	got := out.String()
	// Each redraw goes up over the block it drew: two lines, once both
	// workloads are shown.
	if n := strings.Count(got, "\x1b[2A"); n != 3 {
		t.Errorf("%d moves up over the two workload lines, want 3:\n%q", n, got)
	}
	if !strings.Contains(got, "\x1b[2A\x1b[J"+"web:8080: http://localhost:8080 (loadbalancer)\n") {
		t.Errorf("a line between redraws is not written above the block:\n%q", got)
	}
	last := got[strings.LastIndex(got, "\x1b[2A")+len("\x1b[2A"):]
	if !strings.Contains(last, "✓ Deployment api") || !strings.Contains(last, "… Deployment web") || strings.Contains(last, "ImagePullBackOff") {
		t.Errorf("the last block: %q", last)
	}

	out.Reset()
	p = &progress{w: &out, index: map[string]int{}}
	p.emit(app.EventWorkload, workload("api", 0, false, meshdock.PodProblem{Pod: "api-1", Reason: "ImagePullBackOff", Message: "Back-off pulling image"}))
	p.emit(app.EventWorkload, workload("api", 1, true))
	if got := out.String(); strings.Contains(got, "\x1b") || strings.Count(got, "\n") != 2 ||
		!strings.Contains(got, "✗ Deployment api") || !strings.Contains(got, "pod api-1 ImagePullBackOff: Back-off pulling image") {
		t.Errorf("plain lines:\n%s", got)
	}
}
