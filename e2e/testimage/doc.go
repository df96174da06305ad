// Package testimage builds meshdock's test image: a static HTTP server
// (./server) in a FROM scratch image, built by the local Docker Engine, so
// tests have real containers to run without pulling anything from a
// registry. It is for tests only and must not be imported by meshdock itself.
package testimage
