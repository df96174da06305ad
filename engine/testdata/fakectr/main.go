// Command fakectr stands in for the containerd tools of a cluster node in
// the engine's tests, in a FROM scratch image:
//
//	ctr sleep                                  the node's main process
//	ctr --namespace=k8s.io images import --all-platforms --digests [--snapshotter=S] -
//	                                           reads a `docker save` archive from stdin
//	ctr --namespace=k8s.io images ls           the tags imported so far, each
//	                                           with the snapshotter it was given
//	containerd config dump                     a configuration naming a snapshotter
//
// $FAKECTR_FAIL, when set, makes an import fail with that message after
// the archive's first entry, the rest unread.
package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// imported lists the tags of the images imported, one a line.
const imported = "/var/lib/fakectr/images"

// Snapshotter is the snapshotter `containerd config dump` names.
const Snapshotter = "native"

func main() {
	args := os.Args[1:]
	switch {
	case filepath.Base(os.Args[0]) == "containerd" && slices.Equal(args, []string{"config", "dump"}):
		fmt.Printf("version = 2\nroot = \"/var/lib/containerd\"\n\n[plugins]\n\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    sandbox_image = \"registry.k8s.io/pause:3.10\"\n\n    [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n      default_runtime_name = \"runc\"\n      snapshotter = %q\n", Snapshotter)
	case slices.Equal(args, []string{"sleep"}):
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
	case slices.Equal(args, []string{"--namespace=k8s.io", "images", "ls"}):
		b, _ := os.ReadFile(imported)
		os.Stdout.Write(b)
	case len(args) >= 6 && slices.Equal(args[:5], []string{"--namespace=k8s.io", "images", "import", "--all-platforms", "--digests"}) && args[len(args)-1] == "-":
		var snapshotter string
		for _, a := range args[5 : len(args)-1] {
			s, ok := strings.CutPrefix(a, "--snapshotter=")
			if !ok {
				fail("unknown flag %s", a)
			}
			snapshotter = s
		}
		if snapshotter == "" {
			snapshotter = "default"
		}
		if msg := os.Getenv("FAKECTR_FAIL"); msg != "" {
			// Partway through, with the rest of the archive unread.
			if _, err := tar.NewReader(os.Stdin).Next(); err != nil {
				fail("read the archive: %v", err)
			}
			fail("%s", msg)
		}
		tags, err := importArchive(os.Stdin)
		if err != nil {
			fail("%v", err)
		}
		if err := os.MkdirAll(filepath.Dir(imported), 0o755); err != nil {
			fail("%v", err)
		}
		f, err := os.OpenFile(imported, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fail("%v", err)
		}
		for _, t := range tags {
			fmt.Fprintln(f, t, snapshotter)
			fmt.Printf("imported %s\n", t)
		}
		if err := f.Close(); err != nil {
			fail("%v", err)
		}
	default:
		fail("unexpected command line %q", os.Args)
	}
}

// importArchive reads a `docker save` archive to its end and returns the
// tags its manifest.json names.
func importArchive(r io.Reader) ([]string, error) {
	tr := tar.NewReader(r)
	var tags []string
	found := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the archive: %w", err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var manifest []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&manifest); err != nil {
			return nil, fmt.Errorf("manifest.json: %w", err)
		}
		found = true
		for _, m := range manifest {
			tags = append(tags, m.RepoTags...)
		}
	}
	// What follows the archive's end marker is read too, as ctr does.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	if !found || len(tags) == 0 {
		return nil, errors.New("the archive has no manifest.json naming an image")
	}
	return tags, nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ctr: "+format+"\n", args...)
	os.Exit(1)
}
