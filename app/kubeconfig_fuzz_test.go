package app

import (
	"testing"

	"github.com/meshdock/meshdock"
)

// FuzzKubeconfig: a posted kubeconfig is parsed without a panic; one that
// is accepted names no file and runs no program.
func FuzzKubeconfig(f *testing.F) {
	f.Add("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n")
	f.Add("apiVersion: v1\nkind: Config\nusers: [{name: u, user: {exec: {command: sh}}}]\ncontexts: [{name: x, context: {user: u}}]\n")
	f.Add("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {certificate-authority: /etc/ca}}]\ncontexts: [{name: x, context: {cluster: c}}]\n")
	f.Add(`{"apiVersion":"v1","kind":"Config","contexts":[{"name":"x","context":{}}]}`)
	f.Fuzz(func(t *testing.T, data string) {
		raw, err := parseKubeconfig([]byte(data))
		if err != nil {
			if code := meshdock.ErrorCode(err); code != meshdock.EINVALID && code != meshdock.ETOOLARGE {
				t.Fatalf("%q: %v (%s)", data, err, code)
			}
			return
		}
		for _, c := range raw.Clusters {
			if c.CertificateAuthority != "" || c.ProxyURL != "" {
				t.Fatalf("accepted a cluster that names a file or a proxy: %q", data)
			}
		}
		for _, u := range raw.AuthInfos {
			if u.ClientCertificate != "" || u.ClientKey != "" || u.TokenFile != "" || u.Exec != nil || u.AuthProvider != nil {
				t.Fatalf("accepted a user that names a file or runs a program: %q", data)
			}
		}
	})
}
