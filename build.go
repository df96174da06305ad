package meshdock

// Build is an image a compose service builds from source (`build:`), as
// the converter found it: the deploy builds it through the Docker Engine
// and makes it available to the cluster.
type Build struct {
	Service string `json:"service"`
	// Image is the tag to build, the image the service's pods name:
	// the service's image:, or <project>-<service> as compose names it.
	Image string `json:"image"`
	// Context is the build context relative to the project directory,
	// with forward slashes ("." for the directory itself).
	Context string `json:"context"`
	// Dockerfile is relative to the context; empty means "Dockerfile".
	Dockerfile string            `json:"dockerfile,omitempty"`
	Args       map[string]string `json:"args,omitempty"`
	Target     string            `json:"target,omitempty"`
	// Why, when set, says why meshdock cannot build it (a context outside
	// the project or a remote one, an inline Dockerfile): the user builds it.
	Why string `json:"why,omitempty"`
}
