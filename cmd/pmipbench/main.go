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
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pmipdmm/pmipdmm/internal/cli"
)

const (
	exitOK    = cli.ExitOK
	exitFail  = cli.ExitFail
	exitUsage = cli.ExitUsage
)

type command = cli.Command

var app = &cli.App{Name: "pmipbench", NameWidth: 8, HelpTopic: "flags"}

func register(c *command) { app.Register(c) }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int { return app.Run(args, stdout, stderr) }

func newFlagSet(c *command, stderr io.Writer) *flag.FlagSet { return app.NewFlagSet(c, stderr) }

// parseFlags parses flags that may come before or after positional
// arguments, which it returns; everything after "--" is positional.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) { return cli.ParseArgs(fs, args) }

func flagExit(err error) int { return cli.FlagExit(err) }

func usageError(c *command, stderr io.Writer, format string, a ...any) int {
	return app.UsageError(c, stderr, fmt.Sprintf(format, a...))
}
