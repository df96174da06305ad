// Package convert turns a Docker Compose project into Kubernetes objects:
// Load reads it with compose-go (several files, .env and explicit
// variables, profiles), Convert hands the resolved project to kompose in
// memory and then runs one pass per defect of kompose's output, reporting
// every key it could not carry over as a Warning with its file and line.
// It is called by a server on anyone's upload, so it must not read a file
// outside the project (every read goes through one os.Root), must not use
// the process environment or the server's home, must not show a path of
// the server in any message, and must refuse a project over its limits
// (limits.go) before the step that would pay for it.
package convert
