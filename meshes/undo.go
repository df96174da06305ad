package meshes

import (
	"context"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/meshdock/meshdock"
)

var (
	namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	crdsGVR       = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

// undoTimeout bounds putting a cluster back after a failed install.
const undoTimeout = 2 * time.Minute

// snapshot is what existed before an install: the namespaces of its charts
// and the CRDs of the cluster.
type snapshot struct {
	namespaces map[string]bool
	crds       map[string]bool
}

func snapshotOf(ctx context.Context, restConfig *rest.Config, charts []Chart) (*snapshot, error) {
	dyn, err := dynamic.NewForConfig(restConfig)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "cluster client: %v", err)
	}
	s := &snapshot{namespaces: map[string]bool{}, crds: map[string]bool{}}
	for _, c := range charts {
		if _, seen := s.namespaces[c.Namespace]; seen {
			continue
		}
		_, err := dyn.Resource(namespacesGVR).Get(ctx, c.Namespace, metav1.GetOptions{})
		switch {
		case err == nil:
			s.namespaces[c.Namespace] = true
		case apierrors.IsNotFound(err):
			s.namespaces[c.Namespace] = false
		default:
			return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "read namespace %s: %v", c.Namespace, err)
		}
	}
	list, err := dyn.Resource(crdsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EUNAVAILABLE, err, "list the cluster's CRDs: %v", err)
	}
	for _, crd := range list.Items {
		s.crds[crd.GetName()] = true
	}
	return s, nil
}

// undo puts the cluster back as before was, after a failed install: the
// releases installed are uninstalled and the CRDs and namespaces they
// brought deleted; the releases upgraded are rolled back.
func undo(restConfig *rest.Config, done []installed, before *snapshot, progress func(string)) {
	ctx, cancel := context.WithTimeout(context.Background(), undoTimeout)
	defer cancel()
	dyn, err := dynamic.NewForConfig(restConfig)
	if err != nil {
		progress(fmt.Sprintf("the cluster cannot be put back: %v", err))
		return
	}
	for i := len(done) - 1; i >= 0; i-- {
		d := done[i]
		if !d.fresh {
			cfg, err := helmConfig(restConfig, d.chart.Namespace)
			if err == nil {
				rb := action.NewRollback(cfg)
				rb.Version = d.previous
				rb.Timeout = ChartTimeout
				err = rb.Run(d.chart.Release)
			}
			if err != nil {
				progress(fmt.Sprintf("%s could not be rolled back to revision %d: %v", d.chart.Release, d.previous, err))
			} else {
				progress(fmt.Sprintf("%s rolled back to revision %d", d.chart.Release, d.previous))
			}
			continue
		}
		// A release Helm never recorded (it failed before) has nothing to
		// uninstall, but may have made the CRDs of its crds/ folder.
		quiet := func(m string) {
			if !strings.HasSuffix(m, "is not installed in namespace "+d.chart.Namespace) {
				progress(m)
			}
		}
		left, err := uninstallChart(ctx, restConfig, d.chart, quiet)
		if err != nil {
			progress(fmt.Sprintf("%s could not be removed: %v", d.chart.Release, meshdock.ErrorMessage(err)))
		}
		for _, l := range append(left, d.crds...) {
			name, ok := strings.CutPrefix(l, "CustomResourceDefinition ")
			if !ok || before.crds[name] {
				continue
			}
			if err := dyn.Resource(crdsGVR).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				progress(fmt.Sprintf("CRD %s could not be deleted: %v", name, err))
			}
		}
	}
	for ns, existed := range before.namespaces {
		if existed {
			continue
		}
		if err := dyn.Resource(namespacesGVR).Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			progress(fmt.Sprintf("namespace %s could not be deleted: %v", ns, err))
		}
	}
}
