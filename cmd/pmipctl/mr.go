package main

import (
	"fmt"
	"io"
	"net/http"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

var mrCmd = &command{
	Name: "mr",
	Args: "nodes | locations | departures [--json] [--socket PATH]",
	Summary: "The DMM Mobility Router's state: the nodes attached here (nodes), the location cache\n" +
		"and the correspondents' MRs it would redirect (locations), the nodes that left whose\n" +
		"traffic it still holds or forwards, and the prefixes held in the punt path (departures).",
}

func init() {
	mrCmd.Run = runMR
	register(mrCmd)
}

func runMR(args []string, stdout, stderr io.Writer) int {
	c := mrCmd
	fs := newFlagSet(c, stderr)
	f := addAPIFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) == 0 {
		return usageError(c, stderr, "give an action: nodes, locations or departures")
	}
	verb, pos := pos[0], pos[1:]
	switch verb {
	case "nodes", "locations", "departures":
	default:
		return usageError(c, stderr, fmt.Sprintf("unknown action %q (nodes, locations or departures)", verb))
	}
	if st, ok := noArgs(c, stderr, pos); !ok {
		return st
	}
	switch verb {
	case "nodes":
		var r struct{ Nodes []mgmt.MRNode }
		st, ok := f.call(c, stdout, stderr, http.MethodGet, "/v1/mr/nodes", nil, &r)
		if ok {
			printMRNodes(stdout, r.Nodes)
		}
		return st
	case "locations":
		var r mgmt.MRLocations
		st, ok := f.call(c, stdout, stderr, http.MethodGet, "/v1/mr/locations", nil, &r)
		if ok {
			printMRLocations(stdout, r)
		}
		return st
	default:
		var r mgmt.MRDepartures
		st, ok := f.call(c, stdout, stderr, http.MethodGet, "/v1/mr/departures", nil, &r)
		if ok {
			printMRDepartures(stdout, r)
		}
		return st
	}
}

// printMRNodes prints one row per prefix; a node's own columns are on its
// first row.
func printMRNodes(w io.Writer, ns []mgmt.MRNode) {
	if len(ns) == 0 {
		fmt.Fprintln(w, "no nodes")
		return
	}
	t := newTable(w, "MN", "STATE", "ACCESS", "PREVIOUS-MR", "EXPIRES-IN", "PREFIX", "ANCHOR-MR", "DEPRECATED")
	for _, n := range ns {
		state, expires := "attaching", "-"
		if n.Attached {
			state = "attached"
		}
		if n.Expires != nil {
			expires = secs(n.Remaining)
		}
		access := "-"
		switch {
		case n.MAG.IsValid():
			access = "mag " + n.MAG.String()
		case n.Link != "":
			access = "link " + n.Link
		}
		prev := "-"
		switch {
		case n.PreviousMR.IsValid():
			prev = n.PreviousMR.String()
		case n.Moved:
			prev = "unknown"
		}
		node := []string{n.MN, state, access, prev, expires}
		if len(n.Prefixes) == 0 {
			t.row(append(node, "-", "-", "-")...)
			continue
		}
		for i, p := range n.Prefixes {
			if i > 0 {
				node = []string{"", "", "", "", ""}
			}
			t.row(append(node, p.Prefix.String(), p.AnchorMR.String(), yesNo(p.Deprecated))...)
		}
	}
	t.flush()
}

func printMRLocations(w io.Writer, r mgmt.MRLocations) {
	if len(r.Locations) == 0 {
		fmt.Fprintln(w, "no cached locations")
	} else {
		t := newTable(w, "PREFIX", "ANCHOR-MR", "CURRENT-MR", "SOURCE", "EXPIRES-IN")
		for _, l := range r.Locations {
			t.row(l.Prefix.String(), l.AnchorMR.String(), l.CurrentMR.String(), l.Source, secs(l.Remaining))
		}
		t.flush()
	}
	fmt.Fprintln(w)
	if len(r.Correspondents) == 0 {
		fmt.Fprintln(w, "no correspondents' MRs to redirect")
		return
	}
	t := newTable(w, "PREFIX", "CORRESPONDENT-MRS (redirected when the node moves on)")
	for _, c := range r.Correspondents {
		t.row(c.Prefix.String(), joinStrings(c.MRs))
	}
	t.flush()
}

func printMRDepartures(w io.Writer, r mgmt.MRDepartures) {
	if len(r.Departures) == 0 {
		fmt.Fprintln(w, "no departed nodes")
	} else {
		t := newTable(w, "MN", "PREFIXES", "NEW-MR", "HOLDING", "FORWARDING")
		for _, d := range r.Departures {
			nmr := "unknown"
			if d.NewMR.IsValid() {
				nmr = d.NewMR.String()
			}
			t.row(d.MN, joinStrings(d.Prefixes), nmr, yesNo(d.Holding), joinStrings(d.Forwarding))
		}
		t.flush()
	}
	fmt.Fprintln(w)
	if len(r.Held) == 0 {
		fmt.Fprintln(w, "no prefix held in the punt path")
		return
	}
	fmt.Fprintln(w, "held in the punt path: "+joinStrings(r.Held))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
