package meshdock

// Warning names something of a compose project that was not carried over
// as it was written, and where it was written.
type Warning struct {
	Service string `json:"service,omitempty"`
	Key     string `json:"key,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}
