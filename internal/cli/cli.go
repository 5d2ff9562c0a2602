// Package cli is the sub-command dispatcher shared by the suite's
// command-line tools (pmipctl, pmipbench).
//
// A tool declares one App, each of its commands registers a Command with
// it (usually from an init function), and main calls App.Run:
//
//	prog <command> [arguments]    runs the command
//	prog help [command]           the command list, or a command's usage
//	prog -h | -help | --help      same as help
//
// Each command parses its own arguments with a FlagSet from NewFlagSet and
// ParseArgs, so that flags may come before, between or after the positional
// arguments.
//
// Exit statuses: ExitOK on success, ExitFail when the command failed,
// ExitUsage on a usage error (unknown command, bad flag, wrong arguments).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit statuses shared by every command.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

// Command is one sub-command of a tool.
type Command struct {
	Name    string // the word after the program name
	Args    string // synopsis of the arguments, for usage
	Summary string // description for the command list and the usage; may span lines
	// Run executes the command with the arguments after its name and
	// returns the exit status.
	Run func(args []string, stdout, stderr io.Writer) int
}

// App is the dispatcher of one tool: its name, how it lists its commands,
// and the registered commands. The zero value with Name set is usable.
type App struct {
	Name string // program name: the first word of every message
	// NameWidth is the width of the command-name column of the command
	// list (the names are left-aligned and padded to it).
	NameWidth int
	// IndentSummary aligns the continuation lines of a multi-line
	// summary under its first line in the command list; without it they
	// are printed as they are, from the first column.
	IndentSummary bool
	// HelpTopic is what 'help <command>' shows, as named on the last
	// line of the command list ("arguments", "flags").
	HelpTopic string

	commands map[string]*Command
}

// Register adds a command; it panics if a command of that name was
// registered already.
func (a *App) Register(c *Command) {
	if _, dup := a.commands[c.Name]; dup {
		panic(a.Name + ": command registered twice: " + c.Name)
	}
	if a.commands == nil {
		a.commands = map[string]*Command{}
	}
	a.commands[c.Name] = c
}

// Run is the whole program: it dispatches args[0] (the arguments without
// the program name) to its command and returns the exit status.
//
// Without arguments it prints the command list to stderr (ExitUsage).
// help, -h, -help and --help print the command list to stdout (ExitOK);
// followed by a command's name, they run that command with -h and both
// its outputs on stdout. An unknown command is reported on stderr with
// the command list (ExitUsage).
func (a *App) Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		a.Usage(stderr)
		return ExitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			c, ok := a.commands[args[1]]
			if !ok {
				fmt.Fprintf(stderr, "%s: unknown command %q\n", a.Name, args[1])
				return ExitUsage
			}
			return c.Run([]string{"-h"}, stdout, stdout)
		}
		a.Usage(stdout)
		return ExitOK
	}
	c, ok := a.commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", a.Name, args[0])
		a.Usage(stderr)
		return ExitUsage
	}
	return c.Run(args[1:], stdout, stderr)
}

// Usage prints the program's synopsis and its commands, sorted by name,
// with their summaries.
func (a *App) Usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [arguments]\n", a.Name)
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(a.commands))
	for n := range a.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		summary := a.commands[n].Summary
		if a.IndentSummary {
			summary = strings.ReplaceAll(summary, "\n", "\n"+strings.Repeat(" ", 2+a.NameWidth+1))
		}
		fmt.Fprintf(w, "  %-*s %s\n", a.NameWidth, n, summary)
	}
	fmt.Fprintf(w, "\nRun '%s help <command>' for a command's %s.\n", a.Name, a.HelpTopic)
}

// NewFlagSet returns the FlagSet of command c: errors are returned, not
// fatal; a flag error or -h prints the synopsis, the summary and the flags
// to stderr.
func (a *App) NewFlagSet(c *Command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(a.Name+" "+c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s %s %s\n\n%s\n\nflags:\n", a.Name, c.Name, c.Args, c.Summary)
		fs.PrintDefaults()
	}
	return fs
}

// UsageError reports a usage problem of command c (not a flag error,
// which the FlagSet reports) with its synopsis, and returns ExitUsage.
// msg is printed as it is, not as a format.
func (a *App) UsageError(c *Command, stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "%s %s: %s\nusage: %s %s %s\n", a.Name, c.Name, msg, a.Name, c.Name, c.Args)
	return ExitUsage
}

// ParseArgs parses flags that may appear before, between or after the
// positional arguments, which it returns. Everything after "--" is
// positional, and so is "-" alone. On an error the FlagSet has already
// printed it with the usage; the error is flag.ErrHelp for -h.
func ParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
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

// FlagExit is the exit status after ParseArgs failed: ExitOK for -h,
// ExitUsage otherwise.
func FlagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	return ExitUsage
}
