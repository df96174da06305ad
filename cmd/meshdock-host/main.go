// Command meshdock-host is the Docker Desktop extension's host binary: the
// little the extension's UI needs of the host, which the backend's
// container cannot see. It prints the host's kubeconfig (its current
// context, minified and with every file it names embedded) for the UI to
// post to the backend, and reads a running compose project's files where
// its labels say they are.
//
//	meshdock-host kubeconfig
//	meshdock-host project-files --dir DIR FILE...
//	meshdock-host --version
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// version is set when building a release (-X main.version=...).
var version = "dev"

// Bounds of a project read: the backend's own limits for an import.
const (
	maxFiles    = 200
	maxFileSize = 1 << 20
	maxTotal    = 5 << 20
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var err error
	switch args[0] {
	case "--version", "version":
		fmt.Fprintf(stdout, "meshdock-host %s\n", version)
		return 0
	case "kubeconfig":
		if len(args) > 1 {
			usage(stderr)
			return 2
		}
		err = kubeconfig(stdout)
	case "project-files":
		err = projectFiles(args[1:], stdout)
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "meshdock-host: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshdock-host: %v\n", err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: meshdock-host kubeconfig | project-files --dir DIR FILE... | --version")
}

// kubeconfig prints the current context of this machine's kubeconfig
// ($KUBECONFIG or ~/.kube/config) as one self-contained file.
func kubeconfig(w io.Writer) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	raw, err := rules.Load()
	if err != nil {
		return fmt.Errorf("the kubeconfig cannot be read: %v", err)
	}
	if raw.CurrentContext == "" {
		return errors.New("the kubeconfig has no current context: pick one with kubectl config use-context")
	}
	if err := clientcmdapi.MinifyConfig(raw); err != nil {
		return fmt.Errorf("the current context cannot be used: %v", err)
	}
	if err := clientcmdapi.FlattenConfig(raw); err != nil {
		return fmt.Errorf("a file the kubeconfig names cannot be read: %v", err)
	}
	data, err := clientcmd.Write(*raw)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// file is one file of a project, as the backend's import takes it.
type file struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// projectFiles prints, as JSON {"files":[{name, content}]}, the files
// named (absolute, or relative to the directory) that are regular files
// inside the project directory, named relative to it; a link out of it, a
// folder or a file over the limits is refused.
func projectFiles(args []string, w io.Writer) error {
	if len(args) < 3 || args[0] != "--dir" {
		return errors.New("usage: project-files --dir DIR FILE [FILE]")
	}
	dir, names := args[1], args[2:]
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("--dir %s: give the project's absolute path", dir)
	}
	if len(names) > maxFiles {
		return fmt.Errorf("%d files asked for: at most %d", len(names), maxFiles)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("the project directory cannot be opened: %v", err)
	}
	defer root.Close()
	out := struct {
		Files []file `json:"files"`
	}{Files: []file{}}
	total := 0
	for _, n := range names {
		rel := n
		if filepath.IsAbs(n) {
			if rel, err = filepath.Rel(dir, n); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return fmt.Errorf("%s is not inside the project directory", n)
			}
		}
		rel = filepath.ToSlash(filepath.Clean(rel))
		info, err := root.Stat(rel)
		if err != nil {
			return fmt.Errorf("%s: %v", rel, unwrap(err))
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", rel)
		}
		if info.Size() > maxFileSize {
			return fmt.Errorf("%s is over %d MiB", rel, maxFileSize>>20)
		}
		data, err := fs.ReadFile(root.FS(), rel)
		if err != nil {
			return fmt.Errorf("%s: %v", rel, unwrap(err))
		}
		if total += len(data); total > maxTotal {
			return fmt.Errorf("the files are over %d MiB together", maxTotal>>20)
		}
		out.Files = append(out.Files, file{Name: rel, Content: string(data)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
