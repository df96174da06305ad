package meshes

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshdock/meshdock/convert"
)

// A caller from outside the app (the load generator) gets exactly its
// path under authz enforce: its target's port and nothing else, and every
// connection of the app is allowed or refused as before.
func TestAllowCallerAddsOnlyItsPath(t *testing.T) {
	eachEnforced(t, func(t *testing.T, res *convert.Result, mesh string, w world) {
		peers := w.peers
		var target string
		var port int32
		for _, p := range res.Graph.Paths {
			if p.Port != 0 {
				target, port = p.To, p.Port
				break
			}
		}
		lg := &peer{service: "meshdock-loadgen", workload: "meshdock-loadgen", account: "meshdock-loadgen", labels: map[string]string{"app.kubernetes.io/name": "meshdock-loadgen"}}
		allows := func(w world, c connection) (np, meshOK bool) {
			np = w.networkPolicyAllows(c)
			switch mesh {
			case Istio, IstioAmbient:
				meshOK = w.istioAllows(c)
			case Linkerd:
				meshOK = w.linkerdAllows(c)
			case Consul:
				meshOK = c.from == "" || w.consulAllows(c)
			case Kuma:
				meshOK = c.from == "" || w.kumaAllows(c)
			default:
				meshOK = true
			}
			return np, meshOK
		}
		type verdict struct{ np, mesh bool }
		was := map[connection]verdict{}
		for _, c := range connections(res.Graph) {
			np, m := allows(w, c)
			was[c] = verdict{np, m}
		}
		extra, notes := AllowCaller(mesh, "app", Caller{Name: "meshdock-loadgen", Account: lg.account, Labels: lg.labels,
			Target: peers[target].labels, Port: fmt.Sprint(port)})
		after := *w.auth
		after.Objects = append(append([]*unstructured.Unstructured{}, w.auth.Objects...), extra...)
		withLG := map[string]*peer{"meshdock-loadgen": lg}
		for k, v := range peers {
			withLG[k] = v
		}
		with := world{ns: "app", peers: withLG, objs: w.objs, auth: &after}
		for _, c := range connections(res.Graph) {
			if np, m := allows(with, c); (verdict{np, m}) != was[c] {
				t.Errorf("%s: allowed (NetworkPolicies %v, mesh %v), before (%v, %v)", c, np, m, was[c].np, was[c].mesh)
			}
		}
		np, m := allows(with, connection{"meshdock-loadgen", target, port})
		if !np || m != (mesh != Consul) {
			t.Errorf("the caller to %s:%d: NetworkPolicies %v, mesh %v", target, port, np, m)
		}
		if mesh == Consul && !strings.Contains(strings.Join(notes, " "), "ServiceIntentions") {
			t.Errorf("consul: no note says the intentions deny it: %v", notes)
		}
		for _, n := range res.Graph.Nodes {
			for _, p := range []int32{port, 1234} {
				if n.ID == target && p == port {
					continue
				}
				if np, _ := allows(with, connection{"meshdock-loadgen", n.ID, p}); np {
					t.Errorf("the caller reaches %s:%d too", n.ID, p)
				}
			}
		}
	})
}
