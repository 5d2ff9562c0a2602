// Command pmipbench drives a Local Mobility Anchor (ours or another
// implementation) from emulated MAGs over raw IPPROTO_MH sockets.
//
// Usage:
//
//	pmipbench load    --lma ADDR --mag-addr ADDR[,ADDR...] [--mags N] [--dev IF] [flags]
//	pmipbench conform --lma ADDR --mag-addr ADDR[,ADDR...] [--dev IF] [flags]
//	pmipbench help [command]
//
// load emulates many MAGs (one raw socket per source address) and many
// MNs: registration, re-registration, handover storms (HI=3 or HI=4) and
// de-registration, paced or as fast as a bounded window of outstanding
// PBUs allows, for a duration or a count; it reports throughput, latency
// percentiles, the PBA status histogram and the time-outs (text or
// --json). conform runs the RFC 5213 / 5846 / 5847 conformance catalogue
// and prints each check's verdict with the packets as evidence.
//
// With --dev the MAG addresses are added to that interface (/128,
// nodad) for the run and removed afterwards; without it they must
// already be configured. Raw sockets need CAP_NET_RAW.
//
// Exit status: 0 on success (conform: no check failed), 1 on failure, 2
// on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

type command struct {
	name, args, summary string
	run                 func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("pmipbench: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

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
				fmt.Fprintf(stderr, "pmipbench: unknown command %q\n", args[1])
				return exitUsage
			}
			return c.run([]string{"-h"}, stdout, stdout)
		}
		usage(stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "pmipbench: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pmipbench <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'pmipbench help <command>' for a command's flags.")
}

func newFlagSet(c *command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pmipbench "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pmipbench %s %s\n\n%s\n\nflags:\n", c.name, c.args, c.summary)
		fs.PrintDefaults()
	}
	return fs
}

func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

func usageError(c *command, stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "pmipbench %s: %s\nusage: pmipbench %s %s\n", c.name, fmt.Sprintf(format, a...), c.name, c.args)
	return exitUsage
}
