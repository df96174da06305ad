// Package backend is meshdock's HTTP API: an Echo server that decodes a
// request, calls the store, the engine adapter or the converter, and encodes
// the answer. It also guards the door: Host and Origin checks, limits on
// bodies, on work at once and on time, error mapping and panic recovery. It
// must not hold domain logic (that lives in convert, engine and store) and
// it never lets the server's own environment or files reach an app: a
// folder of the server's disk is read only when an operator allowed folder
// imports, and never one of the folders projectDir refuses.
package backend
