// Command pmipctl is the operator's command-line tool of the PMIPv6/DMM
// suite.
//
// Usage:
//
//	pmipctl <command> [arguments]
//	pmipctl help [command]
//
// Each command (a noun or verb: decode, ...) lives in its own file of this
// package and registers itself from an init function with register; the
// dispatcher here only finds it by name. Flags use the standard flag
// package, one FlagSet per command, and may come before or after the
// positional arguments.
//
// Exit status: 0 on success, 1 when the command failed (a file that cannot
// be read, ...), 2 on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit statuses shared by every command.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one pmipctl subcommand.
type command struct {
	name    string // the word after pmipctl
	args    string // synopsis of the arguments, for usage
	summary string // one line for the command list
	// run executes the command with the arguments after its name and
	// returns the exit status.
	run func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]*command{}

// register adds a command; it is called from init functions.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("pmipctl: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the whole program: it dispatches args[0] to its command.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(stderr, "pmipctl: unknown command %q\n", args[1])
				return exitUsage
			}
			return c.run([]string{"-h"}, stdout, stdout)
		}
		usage(stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "pmipctl: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pmipctl <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, strings.ReplaceAll(commands[n].summary, "\n", "\n"+strings.Repeat(" ", 15)))
	}
	fmt.Fprintln(w, "\nRun 'pmipctl help <command>' for a command's arguments.")
}

// newFlagSet returns the FlagSet of a command: errors are returned, not
// fatal; a flag error or -h prints the synopsis, the summary and the flags
// to stderr.
func newFlagSet(c *command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pmipctl "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pmipctl %s %s\n\n%s\n\nflags:\n", c.name, c.args, c.summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags that may appear before, between or after the
// positional arguments, which it returns. Everything after "--" is
// positional. On an error the FlagSet has already printed it with the
// usage; the error is flag.ErrHelp for -h.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return append(pos, args[1:]...), nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			args = args[1:]
			continue
		}
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil // Parse stopped at "--" and consumed it
		}
		args = rest
	}
	return pos, nil
}

// flagExit is the exit status after parseArgs failed: 0 for -h, 2 otherwise.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// usageError reports a usage problem of command c (not a flag error, which
// the FlagSet reports) and returns exitUsage.
func usageError(c *command, stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "pmipctl %s: %s\nusage: pmipctl %s %s\n", c.name, msg, c.name, c.args)
	return exitUsage
}
