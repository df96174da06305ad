package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/meshdock/meshdock"
)

var (
	namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	servicesGVR   = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	jobsGVR       = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	podMetricsGVR = schema.GroupVersionResource{Group: "metrics.k8s.io", Version: "v1beta1", Resource: "pods"}
)

// NamespaceMesh returns the mesh the app of namespace ns is enrolled in:
// the one its meshdock inventory names, else the one its labels and
// annotations enrol it in, else "none". A namespace that does not exist
// is ENOTFOUND.
func (c Cluster) NamespaceMesh(ctx context.Context, ns string) (string, error) {
	if c.conn == nil {
		return "", ErrNoCluster
	}
	nsObj, err := c.conn.dynamic.Resource(namespacesGVR).Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", meshdock.Errorf(meshdock.ENOTFOUND, "namespace %s does not exist in the cluster", meshdock.QuoteName(ns))
	}
	if err != nil {
		return "", meshdock.Wrap(errorCode(err), err, "read namespace %s: %v", ns, serverMessage(err))
	}
	cm, err := c.conn.dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns).Get(ctx, InventoryName, metav1.GetOptions{})
	if err == nil && cm.GetLabels()[LabelInventory] == "true" {
		if m := cm.GetAnnotations()[AnnotationMesh]; m != "" {
			return m, nil
		}
	}
	l, a := nsObj.GetLabels(), nsObj.GetAnnotations()
	switch {
	case l["istio.io/dataplane-mode"] == "ambient":
		return "istio-ambient", nil
	case l["istio-injection"] == "enabled" || l["istio.io/rev"] != "":
		return "istio", nil
	case a["linkerd.io/inject"] == "enabled":
		return "linkerd", nil
	case l["kuma.io/sidecar-injection"] == "enabled":
		return "kuma", nil
	case l["consul.hashicorp.com/connect-inject"] == "true" || a["consul.hashicorp.com/connect-inject"] == "true":
		return "consul", nil
	}
	return "none", nil
}

// ServicePort is one port of a Service.
type ServicePort struct {
	Name        string `json:"name,omitempty"`
	Port        int32  `json:"port"`
	AppProtocol string `json:"appProtocol,omitempty"`
	// TargetPort is the pods' port, a number or a name.
	TargetPort string `json:"targetPort,omitempty"`
	Protocol   string `json:"protocol,omitempty"`
}

// ServiceInfo is what a load test needs of a Service: its pods' labels
// and its ports.
type ServiceInfo struct {
	Selector map[string]string
	Ports    []ServicePort
}

// Service returns Service name of namespace ns; a Service that does not
// exist is ENOTFOUND, naming those that do.
func (c Cluster) Service(ctx context.Context, ns, name string) (ServiceInfo, error) {
	var info ServiceInfo
	if c.conn == nil {
		return info, ErrNoCluster
	}
	ri := c.conn.dynamic.Resource(servicesGVR).Namespace(ns)
	svc, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		var names []string
		if list, lerr := ri.List(ctx, metav1.ListOptions{Limit: 50}); lerr == nil {
			for _, s := range list.Items {
				names = append(names, s.GetName())
			}
		}
		sort.Strings(names)
		if len(names) == 0 {
			return info, meshdock.Errorf(meshdock.ENOTFOUND, "namespace %s has no Service %s (it has none)", meshdock.QuoteName(ns), meshdock.QuoteName(name))
		}
		return info, meshdock.Errorf(meshdock.ENOTFOUND, "namespace %s has no Service %s (it has %s)", meshdock.QuoteName(ns), meshdock.QuoteName(name), strings.Join(names, ", "))
	}
	if err != nil {
		return info, meshdock.Wrap(errorCode(err), err, "read Service %s/%s: %v", ns, name, serverMessage(err))
	}
	var s corev1.Service
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(svc.Object, &s); err != nil {
		return info, meshdock.Wrap(meshdock.EINTERNAL, err, "read Service %s/%s: %v", ns, name, err)
	}
	info.Selector = s.Spec.Selector
	for _, p := range s.Spec.Ports {
		sp := ServicePort{Name: p.Name, Port: p.Port, TargetPort: p.TargetPort.String(), Protocol: string(p.Protocol)}
		if p.TargetPort.IntValue() == 0 && p.TargetPort.StrVal == "" {
			sp.TargetPort = fmt.Sprint(p.Port) // the Service's own port, as the API server defaults it
		}
		if sp.Protocol == "" {
			sp.Protocol = "TCP"
		}
		if p.AppProtocol != nil {
			sp.AppProtocol = *p.AppProtocol
		}
		info.Ports = append(info.Ports, sp)
	}
	return info, nil
}

// Exists tells whether an object of a resource is there.
func (c Cluster) Exists(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (bool, error) {
	if c.conn == nil {
		return false, ErrNoCluster
	}
	_, err := c.conn.dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, meshdock.Wrap(errorCode(err), err, "read %s %s/%s: %v", gvr.Resource, ns, name, serverMessage(err))
	}
	return true, nil
}

// clientset is the typed client, for what the dynamic one cannot do (a
// pod's log).
func (c Cluster) clientset() (kubernetes.Interface, error) {
	if c.conn == nil {
		return nil, ErrNoCluster
	}
	cs, err := kubernetes.NewForConfig(c.conn.cfg.REST())
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "kubernetes client for %s: %v", c.conn.cfg, err)
	}
	return cs, nil
}

// PodOutcome is how one pod of a Job ended.
type PodOutcome struct {
	Pod string
	// Succeeded is true when the container ended with status 0.
	Succeeded bool
	// Message says why it failed: the container's exit code and reason,
	// or the pod's problem.
	Message string
}

// MaxLogBytes bounds a pod log read.
const MaxLogBytes = 16 << 20

// WaitJob waits until count pods of Job name have ended (container
// container terminated), or the Job failed, and returns how each ended
// (after a failure, those that ended, a failed one among them).
// A pod that cannot start (its image cannot be pulled, it cannot be
// scheduled) fails the wait at once, naming why.
func (c Cluster) WaitJob(ctx context.Context, ns, name, container string, count int, progress func(running []string, ended int)) ([]PodOutcome, error) {
	if c.conn == nil {
		return nil, ErrNoCluster
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		pods, err := c.conn.dynamic.Resource(podsGVR).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + name})
		if err != nil {
			return nil, meshdock.Wrap(errorCode(err), err, "list the pods of Job %s/%s: %v", ns, name, serverMessage(err))
		}
		var ended []PodOutcome
		var running []string
		for _, u := range pods.Items {
			var p corev1.Pod
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
				continue
			}
			out, done, problem := podOutcome(&p, container)
			if problem != "" {
				return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "the load generator's pod %s cannot run: %s", p.Name, problem)
			}
			if done {
				ended = append(ended, out)
			} else if p.Status.Phase == corev1.PodRunning {
				running = append(running, p.Name)
			}
		}
		if progress != nil {
			progress(running, len(ended))
		}
		if len(ended) >= count {
			sort.Slice(ended, func(i, j int) bool { return ended[i].Pod < ended[j].Pod })
			return ended, nil
		}
		if msg := c.jobFailed(ctx, ns, name); msg != "" {
			// A failed Job's other pods go: the ended ones say why.
			for _, e := range ended {
				if !e.Succeeded {
					sort.Slice(ended, func(i, j int) bool { return ended[i].Pod < ended[j].Pod })
					return ended, nil
				}
			}
			return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "the load generator's Job %s failed: %s", name, msg)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// podOutcome reads how a pod's container ended; problem is set when the
// pod will not get there (an image that cannot be pulled, a pod that
// cannot be scheduled).
func podOutcome(p *corev1.Pod, container string) (out PodOutcome, done bool, problem string) {
	out.Pod = p.Name
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
			return out, false, "unschedulable: " + cond.Message
		}
	}
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError":
				problem = fmt.Sprintf("container %s: %s", cs.Name, w.Reason)
				if w.Message != "" {
					problem += ": " + w.Message
				}
				return out, false, problem
			}
		}
		if cs.Name != container {
			continue
		}
		if t := cs.State.Terminated; t != nil {
			out.Succeeded = t.ExitCode == 0
			if !out.Succeeded {
				out.Message = fmt.Sprintf("exit code %d", t.ExitCode)
				if t.Reason != "" {
					out.Message += " (" + t.Reason + ")"
				}
				if t.Message != "" {
					out.Message += ": " + t.Message
				}
			}
			return out, true, ""
		}
	}
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		out.Succeeded = true
		return out, true, ""
	case corev1.PodFailed:
		out.Message = "the pod failed"
		if p.Status.Message != "" {
			out.Message += ": " + p.Status.Message
		}
		return out, true, ""
	}
	return out, false, ""
}

// jobFailed returns the Job's Failed condition's message, if it has one.
func (c Cluster) jobFailed(ctx context.Context, ns, name string) string {
	job, err := c.conn.dynamic.Resource(jobsGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	if cond := condition(job.Object, "Failed"); cond != nil && cond["status"] == "True" {
		msg, _ := cond["message"].(string)
		if reason, _ := cond["reason"].(string); reason != "" {
			msg = reason + ": " + msg
		}
		return msg
	}
	return ""
}

// PodLog reads a container's log through the API server, at most
// MaxLogBytes of it.
func (c Cluster) PodLog(ctx context.Context, ns, pod, container string) ([]byte, error) {
	cs, err := c.clientset()
	if err != nil {
		return nil, err
	}
	limit := int64(MaxLogBytes + 1)
	rc, err := cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, LimitBytes: &limit}).Stream(ctx)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "read the log of pod %s/%s: %v", ns, pod, serverMessage(err))
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit))
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "read the log of pod %s/%s: %v", ns, pod, err)
	}
	if len(data) > MaxLogBytes {
		return nil, meshdock.Errorf(meshdock.ETOOLARGE, "the log of pod %s/%s is over %d MiB", ns, pod, MaxLogBytes>>20)
	}
	return data, nil
}

// FollowLog streams a container's log as it grows, until ctx ends.
func (c Cluster) FollowLog(ctx context.Context, ns, pod, container string) (io.ReadCloser, error) {
	cs, err := c.clientset()
	if err != nil {
		return nil, err
	}
	rc, err := cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true}).Stream(ctx)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "follow the log of pod %s/%s: %v", ns, pod, serverMessage(err))
	}
	return rc, nil
}

// Remove deletes objects meshdock manages, in the background (a Job's
// pods go after it); those gone already, or not meshdock's, are left.
func (c Cluster) Remove(ctx context.Context, objs []*unstructured.Unstructured) error {
	if c.conn == nil {
		return ErrNoCluster
	}
	var errs []error
	for _, o := range objs {
		if _, err := c.remove(ctx, RefOf(o)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Resources are CPU (in millicores) and memory (in bytes).
type Resources struct {
	CPUm   int64 `json:"cpuMillis"`
	Memory int64 `json:"memoryBytes"`
}

func (r *Resources) add(l corev1.ResourceList) {
	if q, ok := l[corev1.ResourceCPU]; ok {
		r.CPUm += q.MilliValue()
	}
	if q, ok := l[corev1.ResourceMemory]; ok {
		r.Memory += q.Value()
	}
}

// ProxyUse is what the mesh's proxies of a namespace reserve and use.
type ProxyUse struct {
	// Pods is how many pods of the namespace carry a proxy, Proxies how
	// many proxy containers they have together.
	Pods, Proxies int
	// Requests and Limits are the proxies' resources from the pod specs
	// (a proxy without a limit adds nothing to Limits; Unlimited counts
	// them).
	Requests, Limits Resources
	Unlimited        int
	// Usage is the proxies' usage from the metrics API, when the cluster
	// serves it (nil otherwise).
	Usage *Resources
}

// proxyContainers are the containers the meshes inject next to the app's.
var proxyContainers = map[string]bool{
	"istio-proxy": true, "linkerd-proxy": true, "kuma-sidecar": true,
	"consul-dataplane": true, "envoy-sidecar": true, "consul-connect-envoy-sidecar": true,
}

// ProxyUse sums the proxies of the running pods of namespace ns, but for
// those whose labels match skip (the load generator's own).
func (c Cluster) ProxyUse(ctx context.Context, ns string, skip map[string]string) (ProxyUse, error) {
	var use ProxyUse
	if c.conn == nil {
		return use, ErrNoCluster
	}
	list, err := c.conn.dynamic.Resource(podsGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return use, meshdock.Wrap(errorCode(err), err, "list the pods of namespace %s: %v", ns, serverMessage(err))
	}
	proxiesOf := map[string]bool{}
	for _, u := range list.Items {
		var p corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || matches(p.Labels, skip) {
			continue
		}
		n := 0
		for _, ct := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			if !proxyContainers[ct.Name] {
				continue
			}
			n++
			proxiesOf[p.Name+"/"+ct.Name] = true
			use.Requests.add(ct.Resources.Requests)
			if len(ct.Resources.Limits) == 0 {
				use.Unlimited++
			}
			use.Limits.add(ct.Resources.Limits)
		}
		if n > 0 {
			use.Pods++
			use.Proxies += n
		}
	}
	metrics, err := c.conn.dynamic.Resource(podMetricsGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(proxiesOf) == 0 {
		return use, nil // no metrics API: usage unknown
	}
	usage := Resources{}
	for _, m := range metrics.Items {
		cts, _, _ := unstructured.NestedSlice(m.Object, "containers")
		for _, ct := range cts {
			cm, _ := ct.(map[string]any)
			name, _ := cm["name"].(string)
			if !proxiesOf[m.GetName()+"/"+name] {
				continue
			}
			u, _ := cm["usage"].(map[string]any)
			l := corev1.ResourceList{}
			for k, v := range u {
				if s, ok := v.(string); ok {
					if q, err := resource.ParseQuantity(s); err == nil {
						l[corev1.ResourceName(k)] = q
					}
				}
			}
			usage.add(l)
		}
	}
	use.Usage = &usage
	return use, nil
}

func matches(labels, sel map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
