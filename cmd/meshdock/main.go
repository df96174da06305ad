// Command meshdock turns Docker Compose apps into Kubernetes manifests,
// deploys them onto a service mesh and benchmarks them.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/meshdock/meshdock"
)

// Exit codes shared by every subcommand.
const (
	exitOK       = 0
	exitError    = 1   // bad input or a failed operation; the message says why
	exitUsage    = 2   // wrong flags or arguments
	exitInternal = 3   // meshdock's own failure, or an outside world it needs is unavailable
	exitCanceled = 130 // interrupted, as shells report SIGINT
)

// exitCode maps an error's code to the exit status: the user's mistakes
// are 1, meshdock's own failures and unavailable outside worlds 3, an
// interruption 130.
func exitCode(err error) int {
	switch meshdock.ErrorCode(err) {
	case "":
		return exitOK
	case meshdock.EINTERNAL, meshdock.EUNAVAILABLE:
		return exitInternal
	case meshdock.ECANCELED:
		return exitCanceled
	}
	return exitError
}

// command is one subcommand: its one-line summary and its entry point, which
// gets the arguments after the subcommand's name and returns an exit code.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands; each lives in its own file and registers
// itself here from an init function.
var commands = map[string]command{}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "meshdock: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return cmd.run(args[1:], stdout, stderr)
}

// parseFlags parses a subcommand's flags and refuses arguments it does not
// take. When ok is false, the subcommand returns code.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "meshdock %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return exitOK, true
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: meshdock COMMAND [OPTIONS]")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'meshdock COMMAND -h' for a command's options.")
}
