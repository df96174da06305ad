// Command meshdock-host is the Docker Desktop extension's host binary: the
// little the extension's UI needs of the host, which the backend's
// container cannot see. It prints the host's kubeconfig (its current
// context, minified and with every file it names embedded) for the UI to
// post to the backend, and reads a running compose project's files where
// its labels say they are, as a folder import would.
//
//	meshdock-host kubeconfig
//	meshdock-host project-files --dir DIR [--env-file FILE]... [--service NAME]... [--] FILE [FILE]
//	meshdock-host --version
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
	"github.com/meshdock/meshdock/dirguard"
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
	fmt.Fprintln(w, "Usage: meshdock-host kubeconfig | "+projectFilesUsage+" | --version")
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

// projectFiles prints, as JSON {"files", "composeFiles", "envFiles"}, a
// compose project's files as a folder import reads them: the compose
// files named (absolute, or relative to the directory), the env files, and
// every file they name inside the project directory (included and
// extended files, secrets, configs, bind-mounted files), each named
// relative to it, with every profile's services loaded (or, when that
// fails, those of the running services' profiles). Nothing outside
// the directory is read, a link out of it included, and the process
// environment is not used.
func projectFiles(args []string, w io.Writer) error {
	fl := flag.NewFlagSet("project-files", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	dir := fl.String("dir", "", "the project's working directory (absolute)")
	var envFiles, services listFlag
	fl.Var(&envFiles, "env-file", "an env file compose read (repeated)")
	fl.Var(&services, "service", "a service that runs (repeated): its profile is read even when another's files are missing")
	if err := fl.Parse(args); err != nil || *dir == "" || fl.NArg() == 0 {
		return errors.New("usage: " + projectFilesUsage)
	}
	if !filepath.IsAbs(*dir) {
		return fmt.Errorf("--dir %s: give the project's absolute path (a project run elsewhere, in WSL or a VM, is read there)", *dir)
	}
	if fl.NArg()+len(envFiles) > compose.MaxComposeFiles*2 {
		return fmt.Errorf("%d files named: at most %d compose files and %d env files", fl.NArg()+len(envFiles), compose.MaxComposeFiles, compose.MaxComposeFiles)
	}
	// The folder comes from the project's labels, which anyone who runs a
	// container writes: it is held to the rules of a folder import (not a
	// disk's root, a system folder, the home or above it, a network path).
	home, _ := os.UserHomeDir()
	root, real, err := dirguard.New("", home, "your").Open(*dir)
	if err != nil {
		return errors.New(meshdock.ErrorMessage(err))
	}
	defer root.Close()
	src := compose.Source{Dir: real, Root: root}
	for _, l := range []struct {
		from []string
		to   *[]string
	}{{fl.Args(), &src.ComposeFiles}, {envFiles, &src.EnvFiles}} {
		for _, n := range l.from {
			rel, err := inside(*dir, n)
			if err != nil {
				return err
			}
			*l.to = append(*l.to, rel)
		}
	}
	_, snap, err := compose.LoadRunning(context.Background(), src, services, compose.Snapshot)
	if err != nil {
		return errors.New(meshdock.ErrorMessage(err))
	}
	out := struct {
		Files        []file   `json:"files"`
		ComposeFiles []string `json:"composeFiles"`
		EnvFiles     []string `json:"envFiles"`
	}{Files: []file{}, ComposeFiles: snap.ComposeFiles, EnvFiles: append([]string{}, snap.EnvFiles...)}
	if len(snap.Files) > maxFiles {
		return fmt.Errorf("the project names %d files: at most %d are imported", len(snap.Files), maxFiles)
	}
	for _, f := range snap.Files {
		if len(f.Content) > maxFileSize {
			return fmt.Errorf("%s is over %d MiB", meshdock.QuotePath(f.Name), maxFileSize>>20)
		}
		// An import carries text: a binary file would arrive changed.
		if !utf8.Valid(f.Content) {
			return fmt.Errorf("%s is not UTF-8 text, which an import of files carries: import the project's folder with meshdock serve instead", meshdock.QuotePath(f.Name))
		}
		out.Files = append(out.Files, file{Name: f.Name, Content: string(f.Content)})
	}
	data, err := json.Marshal(out)
	if err != nil {
		return err
	}
	// What the backend takes in one import, the encoding counted.
	if len(data) > maxTotal {
		return fmt.Errorf("the project's files are over %d MiB together", maxTotal>>20)
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

const projectFilesUsage = "project-files --dir DIR [--env-file FILE]... [--service NAME]... [--] FILE [FILE]"

// file is one file of a project, as the backend's import takes it.
type file struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// inside names a file (absolute, or relative to dir) relative to dir with
// forward slashes, as compose labels name them before links are resolved.
func inside(dir, name string) (string, error) {
	if strings.HasPrefix(name, "-") {
		return "", fmt.Errorf("%s: a file name may not start with -", meshdock.QuotePath(name))
	}
	rel := dirguard.Rel(dir, name)
	if rel == "" {
		return "", fmt.Errorf("%s is not inside the project directory", meshdock.QuotePath(name))
	}
	return rel, nil
}

// listFlag is a flag given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
