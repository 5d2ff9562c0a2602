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
// dispatcher (internal/cli) only finds it by name. Flags use the standard
// flag package, one FlagSet per command, and may come before or after the
// positional arguments.
//
// Exit status: 0 on success, 1 when the command failed (a file that cannot
// be read, ...), 2 on a usage error.
package main

import (
	"flag"
	"io"
	"os"

	"github.com/pmipdmm/pmipdmm/internal/cli"
)

// Exit statuses shared by every command.
const (
	exitOK    = cli.ExitOK
	exitFail  = cli.ExitFail
	exitUsage = cli.ExitUsage
)

// command is one pmipctl subcommand.
type command = cli.Command

// app dispatches to the registered commands and prints the usage.
var app = &cli.App{Name: "pmipctl", NameWidth: 12, IndentSummary: true, HelpTopic: "arguments"}

// register adds a command; it is called from init functions.
func register(c *command) { app.Register(c) }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the whole program: it dispatches args[0] to its command.
func run(args []string, stdout, stderr io.Writer) int { return app.Run(args, stdout, stderr) }

// newFlagSet returns the FlagSet of a command (see cli.App.NewFlagSet).
func newFlagSet(c *command, stderr io.Writer) *flag.FlagSet { return app.NewFlagSet(c, stderr) }

// parseArgs parses interspersed flags and returns the positional
// arguments (see cli.ParseArgs).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) { return cli.ParseArgs(fs, args) }

// flagExit is the exit status after parseArgs failed: 0 for -h, 2 otherwise.
func flagExit(err error) int { return cli.FlagExit(err) }

// usageError reports a usage problem of command c (not a flag error, which
// the FlagSet reports) and returns exitUsage.
func usageError(c *command, stderr io.Writer, msg string) int { return app.UsageError(c, stderr, msg) }
