package meshes

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"time"

	"github.com/meshdock/meshdock"
)

// linkerdIdentityKeys are the values of Linkerd's identity: the trust
// anchor every proxy trusts and the issuer that signs their certificates.
var linkerdIdentityKeys = []string{"identityTrustAnchorsPEM", "identity.issuer.tls.crtPEM", "identity.issuer.tls.keyPEM"}

// Validity of what linkerdIdentity makes.
const (
	linkerdAnchorValidity = 10 * 365 * 24 * time.Hour
	linkerdIssuerValidity = 5 * 365 * 24 * time.Hour
)

// linkerdIdentity makes a trust anchor and an issuer for one Linkerd
// installation, as Linkerd's documentation does with step: ECDSA P-256, a
// root CA and an intermediate CA limited to issuing leaves. Linkerd's chart
// has no defaults for them.
func linkerdIdentity() (map[string]any, error) {
	now := time.Now().Add(-time.Minute)
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINTERNAL, err, "linkerd trust anchor: %v", err)
	}
	root := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "root.linkerd.cluster.local"},
		NotBefore:             now,
		NotAfter:              now.Add(linkerdAnchorValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINTERNAL, err, "linkerd trust anchor: %v", err)
	}
	issuerKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINTERNAL, err, "linkerd issuer: %v", err)
	}
	issuer := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "identity.linkerd.cluster.local"},
		NotBefore:             now,
		NotAfter:              now.Add(linkerdIssuerValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINTERNAL, err, "linkerd trust anchor: %v", err)
	}
	issuerDER, err := x509.CreateCertificate(rand.Reader, issuer, rootCert, &issuerKey.PublicKey, rootKey)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINTERNAL, err, "linkerd issuer: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(issuerKey)
	if err != nil {
		return nil, meshdock.Wrap(meshdock.EINTERNAL, err, "linkerd issuer: %v", err)
	}
	pemOf := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	return map[string]any{
		"identityTrustAnchorsPEM": pemOf("CERTIFICATE", rootDER),
		"identity": map[string]any{"issuer": map[string]any{"tls": map[string]any{
			"crtPEM": pemOf("CERTIFICATE", issuerDER),
			"keyPEM": pemOf("EC PRIVATE KEY", keyDER),
		}}},
	}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// checkLinkerdIdentity checks an identity a user gives Linkerd's chart:
// all of it or none, the issuer's certificate and key a pair, and the
// issuer signed by the trust anchor, which every proxy checks it against.
func checkLinkerdIdentity(values map[string]any) error {
	got := map[string]string{}
	for _, k := range linkerdIdentityKeys {
		if v, ok := valueAt(values, k); ok {
			s, _ := v.(string)
			got[k] = s
		}
	}
	if len(got) == 0 {
		return nil
	}
	if len(got) != len(linkerdIdentityKeys) {
		return meshdock.Errorf(meshdock.EINVALID, "values: linkerd-control-plane needs all of %s or none (meshdock then makes them)", strings.Join(linkerdIdentityKeys, ", "))
	}
	bad := func(format string, a ...any) error {
		return meshdock.Errorf(meshdock.EINVALID, "values: linkerd-control-plane: "+format, a...)
	}
	pair, err := tls.X509KeyPair([]byte(got["identity.issuer.tls.crtPEM"]), []byte(got["identity.issuer.tls.keyPEM"]))
	if err != nil {
		return bad("identity.issuer.tls.crtPEM and keyPEM are not a certificate and its key: %v", err)
	}
	issuer, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return bad("identity.issuer.tls.crtPEM: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(got["identityTrustAnchorsPEM"])) {
		return bad("identityTrustAnchorsPEM holds no PEM certificate")
	}
	if !issuer.IsCA {
		return bad("the issuer is not a CA certificate")
	}
	if _, err := issuer.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return bad("the issuer is not signed by the trust anchor: %v", err)
	}
	return nil
}
