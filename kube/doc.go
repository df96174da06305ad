// Package kube is meshdock's access to a Kubernetes cluster: it loads a
// kubeconfig (from bytes, a file or the default rules) with a chosen context,
// applies sets of objects with server-side apply under the field manager
// "meshdock", and waits for their rollouts. A Cluster that was never
// configured is still a value and answers every call with ErrNoCluster. The
// package talks only to the API server named by the kubeconfig; it reads no
// files but the kubeconfig and those it names, starts no processes and keeps
// no package-level clients.
package kube
