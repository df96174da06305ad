package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/meshdock/meshdock"
)

// BuildSpec is one image to build.
type BuildSpec struct {
	// Tag is the image to make: <project>-<service>, as compose names it,
	// or the service's image:.
	Tag string
	// Context is the build context: an os.Root's FS over the context
	// directory, or files in memory.
	Context fs.FS
	// Dockerfile is the Dockerfile's path inside Context; "" means
	// "Dockerfile".
	Dockerfile string
	Args       map[string]*string
	Target     string
	Labels     map[string]string
}

// MaxLogLine bounds one line of a build's log; the rest of a longer line
// is dropped.
const MaxLogLine = 4 << 10

// Build implements Engine. It sends the context as it reads it and builds
// with the classic builder, which every engine has (BuildKit needs a
// plugin the engine may lack). A failing Dockerfile is the user's
// mistake (EINVALID); cancelling ctx ends the request, and the engine
// stops the build.
func (d *Docker) Build(ctx context.Context, spec BuildSpec, log func(line string)) error {
	if log == nil {
		log = func(string) {}
	}
	dockerfile := spec.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if spec.Context == nil {
		return meshdock.Errorf(meshdock.EINVALID, "build of %s: no build context", spec.Tag)
	}
	if !fs.ValidPath(dockerfile) || dockerfile == "." {
		return meshdock.Errorf(meshdock.EINVALID, "build of %s: Dockerfile %q is not a path inside the build context", spec.Tag, dockerfile)
	}
	if fi, err := fs.Stat(spec.Context, dockerfile); err != nil || !fi.Mode().IsRegular() {
		return meshdock.Errorf(meshdock.EINVALID, "build of %s: the build context has no %s", spec.Tag, dockerfile)
	}

	pr, pw := io.Pipe()
	// The HTTP client waits for a request's body to end before it gives
	// up on the request: a read of the context that hangs must not hang
	// the cancel.
	defer context.AfterFunc(ctx, func() { pr.CloseWithError(ctx.Err()) })()
	tarDone := make(chan error, 1)
	go func() {
		err := writeContext(pw, spec.Context, spec.Tag, dockerfile)
		pw.CloseWithError(err)
		tarDone <- err
	}()
	// finish stops the context's writer, if the request did not read it
	// all, and prefers its error: a request cut short by a bad context
	// fails for that reason.
	finish := func(err error) error {
		pr.CloseWithError(errBuildEnded)
		var tarErr error
		select {
		case tarErr = <-tarDone:
		case <-ctx.Done():
			// Nor the return: the writer ends at its next write.
			return ctx.Err()
		}
		var e *meshdock.Error
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(tarErr, &e):
			return tarErr
		}
		return err
	}

	resp, err := d.c.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Version:     build.BuilderV1,
		Tags:        []string{spec.Tag},
		Dockerfile:  dockerfile,
		BuildArgs:   spec.Args,
		Target:      spec.Target,
		Labels:      spec.Labels,
		Remove:      true,
		ForceRemove: true,
	})
	if err != nil {
		if cerrdefs.IsInvalidArgument(err) {
			// The engine refused the Dockerfile before building: a parse
			// error, an unknown instruction, a target it does not have.
			err = meshdock.Wrap(meshdock.EINVALID, err, "build of %s failed: %s", spec.Tag, engineMessage(err.Error()))
		} else {
			err = d.failed(err, "build %s", spec.Tag)
		}
		return finish(err)
	}
	defer resp.Body.Close()
	return finish(readBuildOutput(resp.Body, spec.Tag, log))
}

// errBuildEnded is what the context's writer meets once the request no
// longer reads it.
var errBuildEnded = errors.New("the build request ended")

// readBuildOutput follows the engine's JSON message stream: each line of
// output goes to log, and an error message ends the build.
func readBuildOutput(r io.Reader, tag string, log func(string)) error {
	dec := json.NewDecoder(r)
	var partial strings.Builder
	lastStatus := map[string]string{} // by ID: progress repeats its status
	flush := func() {
		if partial.Len() > 0 {
			log(partial.String())
			partial.Reset()
		}
	}
	defer flush()
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read the output of the build of %s: %w", tag, err)
		}
		switch {
		case m.Error != nil:
			// Engines send "error" too, the same message, for clients
			// older than API 1.4.
			flush()
			return meshdock.Errorf(meshdock.EINVALID, "build of %s failed: %s", tag, engineMessage(m.Error.Message))
		case m.Stream != "":
			// The stream is text cut anywhere: lines are logged whole.
			s := m.Stream
			for {
				line, rest, found := strings.Cut(s, "\n")
				// A line is kept to MaxLogLine: a build that writes without
				// a newline must not grow the server without bound.
				if room := MaxLogLine - partial.Len(); room > 0 {
					line = strings.TrimSuffix(line, "\r")
					if len(line) > room {
						line = line[:room]
					}
					partial.WriteString(line)
				}
				if !found {
					break
				}
				log(partial.String())
				partial.Reset()
				s = rest
			}
		case m.Status != "":
			// Pulls and such report progress many times a second; a line
			// says what each layer is doing, not how far along it is.
			if lastStatus[m.ID] == m.Status {
				continue
			}
			lastStatus[m.ID] = m.Status
			flush()
			if m.ID != "" {
				log(m.ID + ": " + m.Status)
			} else {
				log(m.Status)
			}
		}
	}
}

// builderDir is the engine's temporary copy of a build context, which
// some engines name in their errors.
var builderDir = regexp.MustCompile(`/\S*/docker-builder[0-9]+/?`)

// engineMessage is the engine's message about a build, without the
// client's prefix or the engine's own paths.
func engineMessage(msg string) string {
	msg = strings.TrimPrefix(msg, "Error response from daemon: ")
	return strings.TrimSpace(builderDir.ReplaceAllString(msg, ""))
}
