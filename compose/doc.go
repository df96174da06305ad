// Package compose loads a Docker Compose project safely: a Source (files
// held in memory, a folder, or a folder a caller opened) becomes a Project
// with compose-go (several files with override semantics, .env and
// explicit variables, profiles, include and extends, jobs), every key
// placed at its file and line for messages. It is called by a server on
// anyone's upload, so it must not read a file outside the project (every
// read goes through fileSet.inside and the project's os.Root), must not
// use the process environment or the server's home, must not show a path
// of the server in any message, and must refuse a project over its limits
// (limits.go) before the step that would pay for it. What the project's
// files hold is read here, once; converting it reads nothing.
package compose
