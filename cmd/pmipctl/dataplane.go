package main

import (
	"fmt"
	"io"
	"net/http"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

var dataplaneCmd = &command{
	Name: "dataplane",
	Args: "[--json] [--socket PATH]",
	Summary: "The forwarding state actually installed (read back from the kernel by the data plane\n" +
		"driver), and what differs from what the running roles want.",
}

func init() {
	dataplaneCmd.Run = runDataplane
	register(dataplaneCmd)
}

func runDataplane(args []string, stdout, stderr io.Writer) int {
	c := dataplaneCmd
	fs := newFlagSet(c, stderr)
	f := addAPIFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if st, ok := noArgs(c, stderr, pos); !ok {
		return st
	}
	var d mgmt.Dataplane
	st, ok := f.call(c, stdout, stderr, http.MethodGet, "/v1/dataplane", nil, &d)
	if !ok {
		return st
	}
	noun := "entries"
	if len(d.Entries) == 1 {
		noun = "entry"
	}
	fmt.Fprintf(stdout, "driver %s: %d %s\n", d.Driver, len(d.Entries), noun)
	for _, e := range d.Entries {
		fmt.Fprintln(stdout, "  "+e.String())
	}
	if !d.Compared {
		return st
	}
	if len(d.Missing) == 0 && len(d.Unexpected) == 0 {
		fmt.Fprintln(stdout, "in sync with the roles")
		return st
	}
	if len(d.Missing) > 0 {
		fmt.Fprintln(stdout, "missing (wanted by the roles, not installed):")
		for _, e := range d.Missing {
			fmt.Fprintln(stdout, "  "+e.String())
		}
	}
	if len(d.Unexpected) > 0 {
		fmt.Fprintln(stdout, "unexpected (installed, not wanted by the roles):")
		for _, e := range d.Unexpected {
			fmt.Fprintln(stdout, "  "+e.String())
		}
	}
	return st
}
