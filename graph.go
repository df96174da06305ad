package meshdock

// Graph is the topology of the app: services and who talks to whom.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
	// Paths are the connections the app makes, which authorization rules
	// allow (and nothing else). Apps converted before paths were found
	// have none (nil).
	Paths []Path `json:"paths"`
}

// Path is one connection the compose file says the app makes: From reaches
// To on Port, for Reasons ("depends_on", "environment.DATABASE_URL names
// db:5432", "ports: published on the host as 8080").
type Path struct {
	// From is the compose service that connects; empty for a published
	// port, reached from outside the app.
	From string `json:"from,omitempty"`
	To   string `json:"to"`
	// Port is the container port; 0 means every port (the compose file
	// names none of To's).
	Port     int32    `json:"port,omitempty"`
	Protocol string   `json:"protocol"`
	Reasons  []string `json:"reasons"`
}

// Node is one compose service.
type Node struct {
	ID string `json:"id"`
	// Workload is the name of its Kubernetes workload, Service and
	// ServiceAccount (the compose name made a valid DNS label).
	Workload string   `json:"workload,omitempty"`
	Image    string   `json:"image"`
	Ports    []string `json:"ports,omitempty"`
	Replicas int      `json:"replicas"`
	Profiles []string `json:"profiles,omitempty"`
	// Internal is true when every network of the service is internal:
	// compose lets it reach nothing outside the app.
	Internal bool `json:"internal,omitempty"`
}

// Edge is a dependency of one service on another.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Kind is "depends_on", "links" or "env".
	Kind string `json:"kind"`
	// Detail says more: the depends_on condition or the variable's name.
	Detail string `json:"detail,omitempty"`
	// Ports are the ports of To the connection reaches (0: every port).
	Ports []int32 `json:"ports,omitempty"`
	// Refused says why compose refuses this connection (the services share
	// no network); authorization rules refuse it too.
	Refused string `json:"refused,omitempty"`
}
