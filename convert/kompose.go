package convert

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	_ "unsafe" // go:linkname

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/kubernetes/kompose/pkg/kobject"
	_ "github.com/kubernetes/kompose/pkg/loader/compose" // komposeMapping
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

// komposeMapping is kompose's own compose-to-kobject mapping. Its only
// public entry point, (*Compose).LoadFile, loads the files a second time
// with compose-go, filling gaps from the process environment and `.env`
// (pkg/loader/compose/compose.go). The project handed over here is already
// loaded and resolved in memory, so the mapping is called on it directly:
// kompose reads no file and no variable, and the project is parsed once.
// The signature is pinned by kompose v1.38.0 in go.mod; the golden tests
// fail if it changes.
//
//go:linkname komposeMapping github.com/kubernetes/kompose/pkg/loader/compose.dockerComposeToKomposeMapping
func komposeMapping(p *types.Project) (kobject.KomposeObject, error)

// runKompose hands the resolved project to kompose's mapping and
// transformer and returns the objects it makes.
//
// What kompose sees has nothing left to fill in or read: every value
// explicit, no env_file, no bind mounts, no secrets or configs (our passes
// make those). Its log.Fatal and panics are contained.
func runKompose(ctx context.Context, in *types.Project, namespace string) (objs []runtime.Object, err error) {
	if err := ctx.Err(); err != nil {
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

	kobj, err := komposeMapping(in)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "the project could not be converted: %v", err)
	}
	kobj.Namespace = namespace
	opt := kobject.ConvertOptions{
		CreateD:    true,
		Provider:   "kubernetes",
		Replicas:   1,
		Volumes:    "persistentVolumeClaim",
		Build:      "none",
		YAMLIndent: 2,
		Namespace:  namespace,
	}
	t := &kubernetes.Kubernetes{Opt: opt}
	objs, err = t.Transform(kobj, opt)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "the project could not be converted: %v", err)
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
