package convert

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// hooksPass carries compose's lifecycle hooks over: post_start and pre_stop
// become the container's postStart and preStop exec handlers, and each
// pre_start hook an init container that runs after the waits for
// dependencies, as compose runs it once they are met.
func hooksPass(s *state) error {
	s.eachContainer(func(name string, svc types.ServiceConfig, w *workload, c *corev1.Container) {
		post := s.lifecycleHandler(name, "post_start", svc.PostStart)
		stop := s.lifecycleHandler(name, "pre_stop", svc.PreStop)
		if post != nil || stop != nil {
			if c.Lifecycle == nil {
				c.Lifecycle = &corev1.Lifecycle{}
			}
			c.Lifecycle.PostStart, c.Lifecycle.PreStop = post, stop
		}
		for i, h := range svc.PreStart {
			s.preStart(name, i, h, svc, w)
		}
	})
	return nil
}

// lifecycleHandler makes one exec handler of a service's hooks: the command
// itself for one hook, or the commands in turn through sh -c for several
// (Kubernetes takes one handler per event).
func (s *state) lifecycleHandler(name, key string, hooks []types.ServiceHook) *corev1.LifecycleHandler {
	var cmds [][]string
	for i, h := range hooks {
		at := fmt.Sprintf("%s.%d", key, i)
		if len(h.Command) == 0 {
			s.warn(name, at, "has no command: left out")
			continue
		}
		var extra []string
		if h.User != "" {
			extra = append(extra, "user")
		}
		if h.Privileged {
			extra = append(extra, "privileged")
		}
		if h.WorkingDir != "" {
			extra = append(extra, "working_dir")
		}
		if len(h.Environment) > 0 {
			extra = append(extra, "environment")
		}
		if len(extra) > 0 {
			s.warn(name, at, fmt.Sprintf("%s not carried over: a Kubernetes hook runs in the container as it is, with its user, folder and environment", strings.Join(extra, ", ")))
		}
		cmds = append(cmds, kubeLiterals(h.Command))
	}
	switch len(cmds) {
	case 0:
		return nil
	case 1:
		return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: cmds[0]}}
	}
	parts := make([]string, len(cmds))
	for i, c := range cmds {
		parts[i] = shellJoin(c)
	}
	s.warn(name, key, fmt.Sprintf("%d hooks run in turn through sh -c: Kubernetes takes one command per hook, so the image needs a shell", len(cmds)))
	return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", strings.Join(parts, " && ")}}}
}

// preStart adds a pre_start hook as an init container: the service's
// container with the hook's image, command, entrypoint, environment, user,
// privileges and folder where it gives them (what it does not set is the
// service's, as compose does).
func (s *state) preStart(name string, i int, h types.PreStartHook, svc types.ServiceConfig, w *workload) {
	at := fmt.Sprintf("pre_start.%d", i)
	main := w.container()
	c := corev1.Container{
		Name:            s.uniqueContainer(w.spec, fmt.Sprintf("pre-start-%d", i)),
		Image:           main.Image,
		ImagePullPolicy: main.ImagePullPolicy,
		Command:         main.Command,
		Args:            main.Args,
		WorkingDir:      main.WorkingDir,
		Env:             slices.Clone(main.Env),
		EnvFrom:         main.EnvFrom,
		VolumeMounts:    main.VolumeMounts,
		Resources:       main.Resources,
	}
	if main.SecurityContext != nil {
		c.SecurityContext = main.SecurityContext.DeepCopy()
	}
	if h.Image != "" {
		c.Image = h.Image
	}
	if h.Entrypoint != nil {
		c.Command = kubeLiterals(h.Entrypoint)
	}
	if h.Command != nil {
		c.Args = kubeLiterals(h.Command)
	}
	if h.WorkingDir != "" {
		c.WorkingDir = h.WorkingDir
	}
	envAt := map[string]int{}
	for i, e := range c.Env {
		envAt[e.Name] = i
	}
	for _, v := range envVars(h.Environment) {
		e := corev1.EnvVar{Name: v.key, Value: kubeLiteral(v.value)}
		if i, ok := envAt[v.key]; ok {
			c.Env[i] = e // the hook's value wins
			continue
		}
		envAt[v.key] = len(c.Env)
		c.Env = append(c.Env, e)
	}
	if h.Privileged {
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		c.SecurityContext.Privileged = ptr.To(true)
	}
	if h.User != "" {
		// A number as kompose carries the service's, then what s.user
		// adds: root, and warnings for names.
		hook := corev1.Container{SecurityContext: &corev1.SecurityContext{}}
		if u, _, _ := strings.Cut(h.User, ":"); u != "" {
			if n, err := strconv.ParseInt(u, 10, 64); err == nil {
				hook.SecurityContext.RunAsUser = &n
				s.idRange(name, hook.SecurityContext)
			}
		}
		s.user(name, h.User, &hook)
		if id := hook.SecurityContext.RunAsUser; id != nil {
			if c.SecurityContext == nil {
				c.SecurityContext = &corev1.SecurityContext{}
			}
			c.SecurityContext.RunAsUser = id
		}
	}
	if rest := otherHookKeys(h, svc); len(rest) > 0 {
		s.warn(name, at, fmt.Sprintf("%s not carried over: only image, command, entrypoint, environment, user, privileged and working_dir of a pre_start hook are", strings.Join(rest, ", ")))
	}
	if !h.PerReplica && replicasOf(svc) > 1 {
		s.warn(name, at, "runs once per replica: Kubernetes runs init containers in every pod")
	}
	w.spec.InitContainers = append(w.spec.InitContainers, c)
}

// otherHookKeys lists the keys a pre_start hook sets to other values than
// the service's (compose-go fills in what the hook inherits) beyond those
// carried over.
func otherHookKeys(h types.PreStartHook, svc types.ServiceConfig) []string {
	hook, own := specKeys(h.ContainerSpec), specKeys(svc.ContainerSpec)
	var out []string
	for _, k := range slices.Sorted(maps.Keys(hook)) {
		switch k {
		case "image", "command", "entrypoint", "environment", "user", "privileged", "working_dir":
			continue
		}
		if !reflect.DeepEqual(hook[k], own[k]) {
			out = append(out, k)
		}
	}
	return out
}

// specKeys is a container spec as its compose keys.
func specKeys(spec types.ContainerSpec) map[string]any {
	var m map[string]any
	if b, err := json.Marshal(spec); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

// uniqueContainer returns name, or name with a suffix when a container of
// the pod already has it.
func (s *state) uniqueContainer(spec *corev1.PodSpec, name string) string {
	taken := func(n string) bool {
		return slices.ContainsFunc(spec.InitContainers, func(c corev1.Container) bool { return c.Name == n }) ||
			slices.ContainsFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == n })
	}
	out := name
	for i := 2; taken(out); i++ {
		out = fmt.Sprintf("%s-%d", name, i)
	}
	return out
}

func replicasOf(svc types.ServiceConfig) int {
	switch {
	case svc.Deploy != nil && svc.Deploy.Replicas != nil:
		return *svc.Deploy.Replicas
	case svc.Scale != nil:
		return *svc.Scale
	}
	return 1
}

// shellJoin writes a command as one line of sh, each word quoted.
func shellJoin(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w != "" && !strings.ContainsFunc(w, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r))
		}) {
			out[i] = w
			continue
		}
		out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
