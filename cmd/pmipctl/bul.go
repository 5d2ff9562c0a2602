package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

var bulCmd = &command{
	Name:    "bul",
	Args:    "[--json] [--socket PATH]",
	Summary: "The MAG's binding update list: one line per mobile node with its LMA, state and prefixes.",
}

func init() {
	bulCmd.Run = runBUL
	register(bulCmd)
}

func runBUL(args []string, stdout, stderr io.Writer) int {
	c := bulCmd
	fs := newFlagSet(c, stderr)
	f := addAPIFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if st, ok := noArgs(c, stderr, pos); !ok {
		return st
	}
	var r struct{ BUL []mgmt.BULEntry }
	st, ok := f.call(c, stdout, stderr, http.MethodGet, "/v1/bul", nil, &r)
	if !ok {
		return st
	}
	if len(r.BUL) == 0 {
		fmt.Fprintln(stdout, "no binding update list entries")
		return st
	}
	t := newTable(stdout, "MN", "INTERFACE", "MAC", "LMA", "STATE", "HNP", "HI", "EXPIRES-IN", "RETRIES")
	for _, e := range r.BUL {
		t.row(e.MNID, e.Interface, dash(e.MAC), e.LMA.String(), e.State, joinStrings(e.HNPs), strconv.Itoa(int(e.HI)),
			secs(e.Remaining), strconv.Itoa(e.Retries))
	}
	t.flush()
	return st
}
