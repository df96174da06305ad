package meshes

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshdock/meshdock"
)

// A user's values may not change what meshdock relies on, and Linkerd's
// identity is taken whole and checked, or made by meshdock.
func TestValuesForRefuses(t *testing.T) {
	id, err := linkerdIdentity()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := linkerdIdentity()
	issuer := id["identity"].(map[string]any)["issuer"].(map[string]any)["tls"].(map[string]any)
	for _, tc := range []struct {
		name, mesh string
		values     map[string]map[string]any
		want       string // "" when accepted
	}{
		{"native sidecars", Linkerd, map[string]map[string]any{"linkerd-control-plane": {"proxy": map[string]any{"nativeSidecar": false}}}, "linkerd-control-plane.proxy.nativeSidecar is set by meshdock"},
		{"consul's name", Consul, map[string]map[string]any{"consul": {"global": map[string]any{"name": "hc"}}}, "consul.global.name is set by meshdock"},
		{"ambient's profile", IstioAmbient, map[string]map[string]any{"istiod": {"profile": "default"}}, "istiod.profile is set by meshdock"},
		{"other consul values", Consul, map[string]map[string]any{"consul": {"server": map[string]any{"replicas": 3}}}, ""},
		{"an anchor alone", Linkerd, map[string]map[string]any{"linkerd-control-plane": {"identityTrustAnchorsPEM": id["identityTrustAnchorsPEM"]}}, "needs all of"},
		{"a whole identity", Linkerd, map[string]map[string]any{"linkerd-control-plane": id}, ""},
		{"an issuer of another anchor", Linkerd, map[string]map[string]any{"linkerd-control-plane": MergeValues(id, map[string]any{"identityTrustAnchorsPEM": other["identityTrustAnchorsPEM"]})}, "not signed by the trust anchor"},
		{"a key of another certificate", Linkerd, map[string]map[string]any{"linkerd-control-plane": MergeValues(id, map[string]any{"identity": map[string]any{"issuer": map[string]any{"tls": map[string]any{
			"keyPEM": other["identity"].(map[string]any)["issuer"].(map[string]any)["tls"].(map[string]any)["keyPEM"], "crtPEM": issuer["crtPEM"]}}}})}, "not a certificate and its key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValuesFor(tc.mesh, tc.values)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if meshdock.ErrorCode(err) != meshdock.EINVALID || !strings.Contains(meshdock.ErrorMessage(err), tc.want) {
				t.Fatalf("got %v, want invalid naming %q", err, tc.want)
			}
		})
	}
}

// A chart cache others may write to is never used: a chart planted there
// would be installed with the server's credentials.
func TestChartCacheMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := Source{Cache: shared}.fetch(context.Background(), "http://127.0.0.1:1", "tiny", "0.1.0")
	if meshdock.ErrorCode(err) != meshdock.EFORBIDDEN || strings.Contains(meshdock.ErrorMessage(err), dir) {
		t.Fatalf("fetch into a shared cache: %v", err)
	}
}
