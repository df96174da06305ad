// Package engine is meshdock's adapter to the Docker Engine: it lists the
// compose projects the engine knows (from the com.docker.compose.* labels
// of their containers), rebuilds a compose model from a project's
// containers when its files cannot be read, builds the images of `build:`
// services, and loads images into cluster nodes that are the engine's
// containers (running ctr in them). It never creates, starts or stops a
// container, pulls only what a Dockerfile's FROM asks the engine for, and
// reads no files on the host but the build contexts it is handed.
package engine
