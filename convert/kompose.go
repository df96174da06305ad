package convert

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/kubernetes/kompose/pkg/kobject"
	komposeloader "github.com/kubernetes/kompose/pkg/loader/compose"
	"github.com/kubernetes/kompose/pkg/transformer/kubernetes"
	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshdock/meshdock"
)

// komposeMu serialises calls into kompose: it logs and exits through
// logrus' process-wide logger, which we redirect for the length of a call.
var komposeMu sync.Mutex

// komposeExit is what kompose's log.Fatal turns into: a panic we recover.
type komposeExit struct{ msg string }

// runKompose hands the resolved project to kompose's loader and transformer
// and returns the objects it makes.
//
// kompose can only load from files, and its loader fills gaps from the
// process environment and `.env`, and its transformer reads files the
// project names. So what it gets is a copy in a private directory of a
// project that has nothing left to fill in or read: every value explicit,
// no env_file, no bind mounts, no secrets or configs (our passes make
// those). Interpolation is off, so `$` in values stays as it is.
func runKompose(ctx context.Context, in *types.Project, namespace string) (objs []runtime.Object, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	yml, err := in.MarshalYAML()
	if err != nil {
		return nil, fmt.Errorf("marshal project for kompose: %w", err)
	}
	dir, err := os.MkdirTemp("", "meshdock-kompose-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, yml, 0o600); err != nil {
		return nil, err
	}

	komposeMu.Lock()
	defer komposeMu.Unlock()
	std := logrus.StandardLogger()
	out, level, exit := std.Out, std.GetLevel(), std.ExitFunc
	std.SetOutput(io.Discard)
	std.SetLevel(logrus.PanicLevel)
	std.ExitFunc = func(int) { panic(komposeExit{"kompose stopped"}) }
	defer func() {
		std.SetOutput(out)
		std.SetLevel(level)
		std.ExitFunc = exit
		if r := recover(); r != nil {
			objs, err = nil, komposeFailure(r, in)
		}
	}()

	kobj, err := (&komposeloader.Compose{}).LoadFile([]string{file}, nil, true)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "the project could not be converted: %s", strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""))
	}
	kobj.Namespace = namespace
	opt := kobject.ConvertOptions{
		CreateD:        true,
		Provider:       "kubernetes",
		Replicas:       1,
		Volumes:        "persistentVolumeClaim",
		Build:          "none",
		InputFiles:     []string{file},
		YAMLIndent:     2,
		Namespace:      namespace,
		PVCRequestSize: "",
	}
	t := &kubernetes.Kubernetes{Opt: opt}
	objs, err = t.Transform(kobj, opt)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "the project could not be converted: %s", strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""))
	}
	return objs, nil
}

// komposeFailure names what kompose was working on when it gave up.
func komposeFailure(r any, in *types.Project) error {
	msg := fmt.Sprint(r)
	if e, ok := r.(*logrus.Entry); ok {
		msg = e.Message
	}
	if e, ok := r.(komposeExit); ok {
		msg = e.msg
	}
	for _, name := range in.ServiceNames() {
		if strings.Contains(msg, name) {
			return meshdock.Errorf(meshdock.EINVALID, "service %s could not be converted: %s", name, msg)
		}
	}
	return meshdock.Errorf(meshdock.EINVALID, "the project could not be converted: %s", msg)
}
