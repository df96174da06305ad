package meshdock

// Graph is the topology of the app: services and who talks to whom.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// Node is one compose service.
type Node struct {
	ID       string   `json:"id"`
	Image    string   `json:"image"`
	Ports    []string `json:"ports,omitempty"`
	Replicas int      `json:"replicas"`
	Profiles []string `json:"profiles,omitempty"`
}

// Edge is a dependency of one service on another.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Kind is "depends_on", "links" or "env".
	Kind string `json:"kind"`
	// Detail says more: the depends_on condition or the variable's name.
	Detail string `json:"detail,omitempty"`
}
