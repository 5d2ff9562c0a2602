package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

var countersCmd = &command{
	Name:    "counters",
	Args:    "[--all] [--json] [--socket PATH]",
	Summary: "The counters of every running role (messages by type and status, drops by reason, events).\nZero counters are left out of the table unless --all.",
}

func init() {
	countersCmd.Run = runCounters
	register(countersCmd)
}

func runCounters(args []string, stdout, stderr io.Writer) int {
	c := countersCmd
	fs := newFlagSet(c, stderr)
	f := addAPIFlags(fs)
	all := fs.Bool("all", false, "also list the counters that are zero")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if st, ok := noArgs(c, stderr, pos); !ok {
		return st
	}
	var r struct{ Counters []mgmt.Counter }
	st, ok := f.call(c, stdout, stderr, http.MethodGet, "/v1/counters", nil, &r)
	if !ok {
		return st
	}
	t := newTable(stdout, "ROLE", "COUNTER", "KEY", "VALUE")
	n := 0
	for _, x := range r.Counters {
		if x.Value == 0 && !*all {
			continue
		}
		t.row(x.Role, x.Name, dash(x.Key), strconv.FormatUint(x.Value, 10))
		n++
	}
	if n == 0 {
		fmt.Fprintln(stdout, "no counters")
		return st
	}
	t.flush()
	return st
}
