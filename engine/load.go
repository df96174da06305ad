package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"regexp"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/meshdock/meshdock"
)

// localHost reports whether an API server's host is this machine: its
// loopback, or the host as a container sees it.
func localHost(h string) bool {
	if h == "localhost" || h == "host.docker.internal" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// binds reports whether a port published on ip is what a client of host
// reaches: one bound to every address is reached at any of this machine's,
// one bound to 127.0.0.1 only there (localhost and, from a container,
// host.docker.internal lead to it).
func binds(ip, host string) bool {
	switch ip {
	case "", "0.0.0.0", "::":
		return true
	case "127.0.0.1":
		return host == "127.0.0.1" || host == "localhost" || host == "host.docker.internal"
	}
	return ip == host
}

// Labels kind and k3d put on their node containers, naming the cluster.
var clusterLabels = []string{"io.x-k8s.kind.cluster", "k3d.cluster"}

// NodeContainers implements Engine. A container is taken for a node only
// when the engine itself ties it to the cluster: some container of the same
// kind or k3d cluster (by its label) publishes the API server's port on this
// machine, so the kubeconfig reaches that very cluster. Node names alone are
// the cluster's to choose, and a cluster that lists another's containers as
// its nodes must not get images loaded into them.
func (d *Docker) NodeContainers(ctx context.Context, apiHost string, apiPort int, nodes []string) (map[string]string, error) {
	out := map[string]string{}
	// Only an engine of this machine publishes ports on this machine's
	// loopback, where a kubeconfig of kind or k3d points.
	if len(nodes) == 0 || apiPort <= 0 || !localHost(apiHost) || !strings.HasPrefix(d.host, "unix://") {
		return out, nil
	}
	want := map[string]bool{}
	for _, n := range nodes {
		want[n] = true
	}
	list, err := d.c.ContainerList(ctx, container.ListOptions{
		Filters: filters.NewArgs(filters.Arg("status", string(container.StateRunning)))})
	if err != nil {
		return nil, d.failed(err, "list containers")
	}
	// The cluster whose container publishes the API server's port: one,
	// or none is trusted.
	key, cluster := "", ""
	for _, c := range list {
		for _, p := range c.Ports {
			if int(p.PublicPort) != apiPort || !binds(p.IP, apiHost) {
				continue
			}
			for _, l := range clusterLabels {
				if v := c.Labels[l]; v != "" {
					if cluster != "" && (key != l || cluster != v) {
						return out, nil
					}
					key, cluster = l, v
				}
			}
		}
	}
	if cluster == "" {
		return out, nil
	}
	// The engine's name filter matches part of a name: names are compared
	// here, whole.
	for _, c := range list {
		if c.Labels[key] != cluster {
			continue
		}
		for _, name := range c.Names {
			if name = strings.TrimPrefix(name, "/"); want[name] {
				out[name] = c.ID
			}
		}
	}
	return out, nil
}

// importCommand is what kind runs in a node to load an image: containerd's
// CLI imports a `docker save` archive into the namespace the kubelet's
// containerd uses, every platform of it, keeping the digests.
var importCommand = []string{"ctr", "--namespace=k8s.io", "images", "import", "--all-platforms", "--digests"}

// defaultPath is the PATH an exec gets in a container that sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// maxExecOutput bounds what a command's output adds to an error message.
const maxExecOutput = 4 << 10

// LoadImage implements Engine. The engine's `docker save` stream goes
// straight into ctr's standard input in the node: nothing is written to
// disk on the way.
func (d *Docker) LoadImage(ctx context.Context, image, id string) error {
	node, err := d.c.ContainerInspect(ctx, id)
	if err != nil {
		return d.failed(err, "inspect node container %s", id)
	}
	name := strings.TrimPrefix(node.Name, "/")
	if node.State == nil || !node.State.Running {
		return meshdock.Errorf(meshdock.ECONFLICT, "the image %s could not be loaded into node %s: its container is not running", image, name)
	}
	if ok, err := d.hasCommand(ctx, node, "ctr"); err != nil {
		return err
	} else if !ok {
		return meshdock.Errorf(meshdock.EUNSUPPORTED, "the image %s could not be loaded into node %s: the node has no ctr on its PATH, so its images are not kept by containerd "+
			"(a minikube node with the docker runtime, say); load it with the cluster's own tool, such as `minikube image load %s`", image, name, image)
	}
	cmd := append([]string{}, importCommand...)
	if s := d.snapshotter(ctx, node); s != "" {
		// ctr unpacks into containerd's default snapshotter unless told
		// which one the kubelet's containerd uses.
		cmd = append(cmd, "--snapshotter="+s)
	}
	cmd = append(cmd, "-")

	saveCtx, cancelSave := context.WithCancel(ctx)
	defer cancelSave()
	save, err := d.c.ImageSave(saveCtx, []string{image})
	if err != nil {
		return d.failed(err, "save image %s", image)
	}
	defer save.Close()
	src := &errReader{r: save}
	res, err := d.exec(ctx, node.ID, cmd, func(stop context.Context, w io.Writer) error {
		// ctr may end without reading it all.
		defer context.AfterFunc(stop, cancelSave)()
		io.Copy(w, src)
		// A write fails when ctr has gone: its exit code and output say
		// why. Only a broken archive must stop it.
		return src.err
	})
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil && src.err != nil:
		// The engine's archive broke off: ctr's complaint about a short
		// archive would hide why.
		return d.failed(src.err, "save image %s", image)
	case err != nil:
		return d.failed(err, "run ctr in node %s", name)
	case res.code != 0:
		why := strings.TrimSpace(res.stderr.String())
		if why == "" {
			why = strings.TrimSpace(res.stdout.String())
		}
		return meshdock.Errorf(meshdock.EUNAVAILABLE, "the image %s could not be loaded into node %s: ctr exited with code %d: %s", image, name, res.code, why)
	}
	return nil
}

// hasCommand reports whether a command is on the PATH an exec in the
// container gets. Looking for it, rather than running it, tells a node
// that lacks it from one where it fails.
func (d *Docker) hasCommand(ctx context.Context, c container.InspectResponse, cmd string) (bool, error) {
	pathList := defaultPath
	if c.Config != nil {
		for _, e := range c.Config.Env {
			if v, ok := strings.CutPrefix(e, "PATH="); ok {
				pathList = v
			}
		}
	}
	for _, dir := range strings.Split(pathList, ":") {
		if !path.IsAbs(dir) {
			continue
		}
		st, err := d.c.ContainerStatPath(ctx, c.ID, path.Join(dir, cmd))
		switch {
		case err == nil && !st.Mode.IsDir():
			return true, nil
		case err != nil && !cerrdefs.IsNotFound(err):
			return false, d.failed(err, "look for %s in container %s", cmd, c.ID)
		}
	}
	return false, nil
}

// snapshotter is the snapshotter of the kubelet's containerd in a node,
// from its configuration as `containerd config dump` writes it (config
// version 2, or 3 and later), as kind finds it; "" when it cannot be
// told, and ctr then uses its default.
func (d *Docker) snapshotter(ctx context.Context, node container.InspectResponse) string {
	if ok, err := d.hasCommand(ctx, node, "containerd"); !ok || err != nil {
		return ""
	}
	res, err := d.exec(ctx, node.ID, []string{"containerd", "config", "dump"}, nil)
	if err != nil || res.code != 0 || res.stdout.cut {
		return ""
	}
	return parseSnapshotter(res.stdout.String())
}

var snapshotterName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// parseSnapshotter finds the CRI plugin's snapshotter in a containerd
// configuration: the dump writes every table in full, one key a line.
func parseSnapshotter(config string) string {
	table := ""
	for _, line := range strings.Split(config, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			// Newer dumps quote the plugins' names with ' rather than ".
			table = strings.ReplaceAll(strings.TrimSpace(strings.Trim(line, "[]")), "'", `"`)
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) != "snapshotter" {
			continue
		}
		switch table {
		case `plugins."io.containerd.grpc.v1.cri".containerd`, `plugins."io.containerd.cri.v1.images"`:
			if v := strings.Trim(strings.TrimSpace(value), `"'`); snapshotterName.MatchString(v) {
				return v
			}
		}
	}
	return ""
}

// execResult is how a command run in a container ended.
type execResult struct {
	code           int
	stdout, stderr boundedBuffer
}

// exec runs cmd in a container. stdin, when not nil, writes the
// command's standard input; its context is done once the command's
// output has ended, so a writer still reading its source can stop. When
// stdin returns an error, the command must not go on with what it got:
// the connection is closed and exec fails.
func (d *Docker) exec(ctx context.Context, id string, cmd []string, stdin func(stop context.Context, w io.Writer) error) (*execResult, error) {
	created, err := d.c.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd: cmd, AttachStdin: stdin != nil, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return nil, err
	}
	conn, err := d.c.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// The hijacked connection knows nothing of ctx.
	defer context.AfterFunc(ctx, conn.Close)()

	res := &execResult{stdout: boundedBuffer{max: maxExecOutput}, stderr: boundedBuffer{max: maxExecOutput}}
	if stdin == nil {
		// A configuration dump is larger than an error.
		res.stdout.max = 1 << 20
	}
	stop, stopped := context.WithCancel(ctx)
	defer stopped()
	inDone := make(chan struct{})
	if stdin != nil {
		go func() {
			defer close(inDone)
			if err := stdin(stop, conn.Conn); err != nil {
				conn.Close() // the command must not take a part for the whole
				return
			}
			conn.CloseWrite() // ctr reads to the end of the archive
		}()
	} else {
		close(inDone)
	}
	_, err = stdcopy.StdCopy(&res.stdout, &res.stderr, conn.Reader)
	stopped()
	conn.Close()
	<-inDone
	if err != nil {
		return nil, err
	}
	// The output ends when the command does, and the engine records
	// its exit code a moment later.
	for wait := time.Duration(0); ; wait += 10 * time.Millisecond {
		st, err := d.c.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return nil, err
		}
		if !st.Running {
			res.code = st.ExitCode
			break
		}
		if wait > 5*time.Second {
			return nil, fmt.Errorf("%s in container %s: still running after its output ended", cmd[0], id)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Once the output has ended, the exit code is the command's word: a
	// ctr that read the archive to its end marker need not have read the
	// padding after it.
	return res, nil
}

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	strings.Builder
	max int
	cut bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.cut = true
		b.Builder.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Builder.Write(p)
}

// String is what was kept, marked when some was left out.
func (b *boundedBuffer) String() string {
	if b.cut {
		return b.Builder.String() + " …"
	}
	return b.Builder.String()
}

// errReader keeps the error of reading its source, to tell it from one
// of writing where the bytes go.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}
