// Package convert turns a loaded compose project (compose.Load) into
// Kubernetes objects: it hands the project to kompose in memory, then runs
// one pass per defect of kompose's output and one per compose key kompose
// drops, reporting every key it could not carry over as a warning with its
// file and line, and builds the app's topology graph. It reads no file and
// no environment: what the project's files hold was read when it was
// loaded.
package convert
