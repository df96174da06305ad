// Package engine is meshdock's adapter to the Docker Engine: it lists the
// compose projects the engine knows (from the com.docker.compose.* labels
// of their containers) and rebuilds a compose model from a project's
// containers when its files cannot be read. It only reads: it never creates,
// starts, stops or pulls anything, and it never reads files on the host.
package engine
