package convert

import (
	"context"
	"io"
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

// lastEntry keeps the message of kompose's last fatal log entry, which its
// exit then carries.
type lastEntry struct {
	mu  sync.Mutex
	msg string
}

func (h *lastEntry) Levels() []logrus.Level {
	return []logrus.Level{logrus.FatalLevel, logrus.PanicLevel}
}

func (h *lastEntry) Fire(e *logrus.Entry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msg = e.Message
	return nil
}

func (h *lastEntry) message() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.msg == "" {
		return "kompose stopped"
	}
	return h.msg
}

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
	out, level, exit, hooks := std.Out, std.GetLevel(), std.ExitFunc, std.Hooks
	std.SetOutput(io.Discard)
	std.SetLevel(logrus.FatalLevel) // fatal entries reach the hook, then exit
	var last lastEntry
	std.ReplaceHooks(logrus.LevelHooks{})
	std.AddHook(&last)
	std.ExitFunc = func(int) { panic(komposeExit{last.message()}) }
	defer func() {
		std.SetOutput(out)
		std.SetLevel(level)
		std.ExitFunc = exit
		std.ReplaceHooks(hooks)
		if r := recover(); r != nil {
			objs, err = nil, komposeFailure(r)
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

// komposeFailure classifies what stopped kompose. Its log.Fatal and panics
// guard states that the project handed to it never has (files to read,
// policies meshdock validated first): reaching one is a defect of
// meshdock's, not the user's mistake, so it is an internal error with the
// stack and kompose's message kept for the log.
func komposeFailure(r any) error {
	switch e := r.(type) {
	case *logrus.Entry:
		r = e.Message
	case komposeExit:
		r = e.msg
	}
	return meshdock.Recovered("kompose", r)
}
