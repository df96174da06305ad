// Package meshes knows the service meshes meshdock deploys onto (Istio with
// sidecars or ambient, Linkerd, Consul, Kuma) and the baseline without one:
// how an app is enrolled in each (the namespace's labels and annotations,
// pod annotations, the mesh's own objects), and how mesh-neutral traffic
// policies are written for each. Enrolling only adds labels, annotations
// and objects; it never changes what the app itself runs. It talks to no
// cluster.
package meshes
