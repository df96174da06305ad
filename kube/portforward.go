package kube

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/meshdock/meshdock"
)

var nodesGVR = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// Nodes lists the names of the cluster's nodes, sorted.
func (c Cluster) Nodes(ctx context.Context) ([]string, error) {
	if c.conn == nil {
		return nil, ErrNoCluster
	}
	list, err := c.conn.dynamic.Resource(nodesGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, meshdock.Wrap(errorCode(err), err, "list the nodes: %v", err)
	}
	names := make([]string, 0, len(list.Items))
	for _, n := range list.Items {
		names = append(names, n.GetName())
	}
	sort.Strings(names)
	return names, nil
}

// ReadyPod returns a running, ready pod of namespace ns whose labels match
// selector, preferring the oldest (the one least likely to go away).
func (c Cluster) ReadyPod(ctx context.Context, ns string, selector map[string]string) (string, error) {
	if c.conn == nil {
		return "", ErrNoCluster
	}
	list, err := c.conn.dynamic.Resource(podsGVR).Namespace(ns).List(ctx,
		metav1.ListOptions{LabelSelector: labels.SelectorFromSet(selector).String()})
	if err != nil {
		return "", meshdock.Wrap(errorCode(err), err, "list the pods of namespace %s: %v", ns, err)
	}
	pods := list.Items
	sort.Slice(pods, func(i, j int) bool {
		return pods[i].GetCreationTimestamp().Time.Before(pods[j].GetCreationTimestamp().Time)
	})
	for _, p := range pods {
		if p.GetDeletionTimestamp() == nil && podReady(&p) {
			return p.GetName(), nil
		}
	}
	return "", meshdock.Errorf(meshdock.ENOTFOUND, "no ready pod in namespace %s matches %s", ns, labels.SelectorFromSet(selector))
}

func podReady(p *unstructured.Unstructured) bool {
	phase, _, _ := unstructured.NestedString(p.Object, "status", "phase")
	if phase != "Running" {
		return false
	}
	c := condition(p.Object, "Ready")
	return c != nil && c["status"] == "True"
}

// Forward is a port-forward from a local address to a pod's port, held
// until Close or until the connection to the API server breaks.
type Forward struct {
	// Local is the address it listens on (127.0.0.1:8080).
	Local string
	stop  chan struct{}
	done  chan error
}

// Close stops the forward.
func (f *Forward) Close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
}

// Done is closed with the forward's end; Err then says why.
func (f *Forward) Done() <-chan error { return f.done }

// PortForward forwards local (host:port on loopback; port 0 picks one) to
// the port of a pod, through the API server, as kubectl port-forward does.
// It returns once the listener is up, or with the reason it could not be.
func (c Cluster) PortForward(ctx context.Context, ns, pod, local string, podPort int32) (*Forward, error) {
	if c.conn == nil {
		return nil, ErrNoCluster
	}
	rc := c.conn.cfg.REST()
	transport, upgrader, err := spdy.RoundTripperFor(rc)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "port-forward: %v", err)
	}
	u, err := url.Parse(strings.TrimSuffix(rc.Host, "/"))
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "port-forward: %v", err)
	}
	u.Path += fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/portforward", url.PathEscape(ns), url.PathEscape(pod))
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	host, port, ok := strings.Cut(local, ":")
	if !ok {
		host, port = "127.0.0.1", local
	}
	f := &Forward{stop: make(chan struct{}), done: make(chan error, 1)}
	ready := make(chan struct{})
	var errOut strings.Builder
	pf, err := portforward.NewOnAddresses(dialer, []string{host}, []string{fmt.Sprintf("%s:%d", port, podPort)}, f.stop, ready, io.Discard, &errOut)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "port-forward: %v", err)
	}
	go func() { f.done <- pf.ForwardPorts(); close(f.done) }()
	select {
	case <-ready:
	case err := <-f.done:
		why := err.Error() + errText(errOut.String())
		if strings.Contains(why, "error dialing backend") {
			// The API server's own words name its machine's paths and
			// addresses: what matters is where the way ends.
			why = "the API server cannot reach the pod's node (error dialing backend)"
		}
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "port-forward to pod %s/%s: %s", ns, pod, why)
	case <-ctx.Done():
		f.Close()
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
		f.Close()
		return nil, meshdock.Errorf(meshdock.EUNAVAILABLE, "port-forward to pod %s/%s did not start in 10s", ns, pod)
	}
	ports, err := pf.GetPorts()
	if err == nil && len(ports) == 1 {
		f.Local = fmt.Sprintf("%s:%d", host, ports[0].Local)
	}
	return f, nil
}

func errText(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return ""
	}
	return ": " + meshdock.Quote(s, 300)
}
