package main

import (
	"fmt"
	"io"
	"runtime"
)

// version is meshdock's version, set when building a release:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/meshdock
var version = "dev"

func init() {
	commands["version"] = command{summary: "print meshdock's version", run: runVersion}
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "Usage: meshdock version")
		return exitUsage
	}
	fmt.Fprintf(stdout, "meshdock %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
