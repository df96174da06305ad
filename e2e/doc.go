// Package e2e holds meshdock's end-to-end tests: they run against the real
// Docker Engine and the real Kubernetes control plane of the test
// environment (scripts/testenv), and skip with a message saying how to start
// it when it is absent or under -short. Nothing here is part of meshdock's
// binary.
package e2e
