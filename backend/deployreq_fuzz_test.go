package backend

import (
	"strings"
	"testing"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
)

// FuzzDeployRequest: any body is decoded and checked without a panic, and
// refused with a client's error code, never an internal one.
func FuzzDeployRequest(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"context":"kind-dev","namespace":"shop","expose":"loadbalancer","options":{"forceConflicts":true,"timeout":"90s"}}`,
		`{"namespace":"kube-system"}`, `{"options":{"timeout":"-1s"}}`, `{"options":{"timeout":"1s","timeout":"2s"}}`,
		`{"expose":"x","x":1}`, `[1]`, `{"options":[]}`, "\xef\xbb\xbf{}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req app.DeployRequest
		err := decodeJSON(strings.NewReader(body), &req, deployKeys)
		if err == nil {
			err = req.Check()
		}
		if err == nil {
			return
		}
		switch code := meshdock.ErrorCode(err); code {
		case meshdock.EINVALID, meshdock.ETOOLARGE:
		default:
			t.Fatalf("%q: %v (%s)", body, err, code)
		}
	})
}
