package convert

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// dnsName turns a compose name into a valid Kubernetes object name (an RFC
// 1035 label, which Services need): lower case, `_` and other characters as `-`, at most 63
// characters, starting and ending with a letter or digit.
func dnsName(name string) string {
	n := notDNS.ReplaceAllString(strings.ToLower(name), "-")
	n = strings.Trim(n, "-")
	if len(n) > 63 {
		n = strings.Trim(n[:54], "-") + "-" + shortHash(name)
	}
	if n == "" {
		n = "x-" + shortHash(name)
	}
	// Service names must start with a letter (RFC 1035).
	if n[0] >= '0' && n[0] <= '9' {
		n = "s-" + n
		if len(n) > 63 {
			n = strings.Trim(n[:54], "-") + "-" + shortHash(name)
		}
	}
	return n
}

// dnsSubdomain turns a name into a valid name for objects that allow dots
// (ConfigMaps, Secrets, PVCs): the same rules, with `.` kept.
func dnsSubdomain(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = dnsName(p)
	}
	return strings.Join(parts, ".")
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:8]
}

// firstOf drops the second value of a lookup.
func firstOf[T any](v T, _ bool) T { return v }
