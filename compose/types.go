package compose

import "os"

// File is one file of a compose project held in memory. Name is a path
// relative to the project directory, with forward slashes ("compose.yaml",
// ".env", "config/nginx.conf").
type File struct {
	Name    string `json:"name"`
	Content []byte `json:"content"`
}

// Source describes a compose project to load.
//
// A Source is either in memory (Files) or on disk (Dir). An in-memory source
// is written to a private directory before loading, so every file the project
// refers to must be among Files. An on-disk source may only refer to files
// inside Dir. In both cases nothing else on the converting machine is read,
// and the process environment is never used for interpolation.
type Source struct {
	// Name is the project name (docker compose -p). Empty means the
	// top-level `name:` of the files, or else the directory's name.
	Name string `json:"name,omitempty"`
	// Dir is a project directory on disk. Empty for an in-memory source.
	Dir string `json:"-"`
	// Root, with Dir, is that directory already opened by a caller that
	// vetted it (a server reading a folder it was asked to). Every read
	// then goes through Root, so a folder swapped after the check is never
	// read, and compose-go works on a private copy of what was read, never
	// on the folder itself. The caller closes Root.
	Root *os.Root `json:"-"`
	// DirName is the name of an in-memory project's directory, which is
	// the default project name (as the current directory's is for docker
	// compose); empty means "app".
	DirName string `json:"dirName,omitempty"`
	// Files holds the project's files for an in-memory source.
	Files []File `json:"files,omitempty"`
	// ComposeFiles names the compose files in override order: names among
	// Files, or paths relative to Dir (absolute paths allowed with Dir).
	// Empty means compose.yaml / docker-compose.yml and their overrides.
	ComposeFiles []string `json:"composeFiles,omitempty"`
	// EnvFiles names the --env-file files; empty means ".env" when present.
	EnvFiles []string `json:"envFiles,omitempty"`
	// Env holds explicit variables; they win over the env files.
	Env map[string]string `json:"env,omitempty"`
	// Profiles to enable.
	Profiles []string `json:"profiles,omitempty"`
}
