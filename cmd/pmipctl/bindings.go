package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

var bindingsCmd = &command{
	Name: "bindings",
	Args: "[list | show MN | revoke MN [--prefix P] [--trigger N] [--no-wait]] [--json] [--socket PATH]",
	Summary: "The LMA's binding cache: list it (default), show the bindings of one mobile node,\n" +
		"or revoke them (RFC 5846: a Binding Revocation Indication to the MAG; waits for the\n" +
		"acknowledgement unless --no-wait). Exit status 1 when a binding was not revoked.",
}

func init() {
	bindingsCmd.Run = runBindings
	register(bindingsCmd)
}

func runBindings(args []string, stdout, stderr io.Writer) int {
	c := bindingsCmd
	fs := newFlagSet(c, stderr)
	f := addAPIFlags(fs)
	prefix := fs.String("prefix", "", "revoke: only the binding holding this home network prefix")
	trigger := fs.Uint("trigger", 1, "revoke: RFC 5846 revocation trigger (1 administrative reason, 7 possible out-of-sync BCE state, ...)")
	noWait := fs.Bool("no-wait", false, "revoke: do not wait for the Binding Revocation Acknowledgement")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	verb := "list"
	if len(pos) > 0 {
		verb, pos = pos[0], pos[1:]
	}
	switch verb {
	case "list":
		if st, ok := noArgs(c, stderr, pos); !ok {
			return st
		}
		var r struct{ Bindings []mgmt.Binding }
		st, ok := f.call(c, stdout, stderr, http.MethodGet, "/v1/bindings", nil, &r)
		if ok {
			printBindings(stdout, r.Bindings)
		}
		return st
	case "show":
		if len(pos) != 1 {
			return usageError(c, stderr, "show needs one MN identifier")
		}
		var r struct{ Bindings []mgmt.Binding }
		st, ok := f.call(c, stdout, stderr, http.MethodGet, "/v1/bindings/"+url.PathEscape(pos[0]), nil, &r)
		if ok {
			showBindings(stdout, r.Bindings)
		}
		return st
	case "revoke":
		if len(pos) != 1 {
			return usageError(c, stderr, "revoke needs one MN identifier")
		}
		if *trigger > 255 {
			return usageError(c, stderr, fmt.Sprintf("--trigger %d: must be 0-255", *trigger))
		}
		req := mgmt.RevokeRequest{NoWait: *noWait}
		if *prefix != "" {
			p, err := netip.ParsePrefix(*prefix)
			if err != nil {
				return usageError(c, stderr, fmt.Sprintf("--prefix %q: not a prefix", *prefix))
			}
			req.Prefix = p
		}
		tr := uint8(*trigger)
		req.Trigger = &tr
		body, _ := json.Marshal(req)
		var r mgmt.RevokeResponse
		st, ok := f.call(c, stdout, stderr, http.MethodPost, "/v1/bindings/"+url.PathEscape(pos[0])+"/revoke", body, &r)
		if !ok {
			return st
		}
		return printRevoke(stdout, r, *noWait)
	}
	return usageError(c, stderr, fmt.Sprintf("unknown action %q (list, show or revoke)", verb))
}

func printBindings(w io.Writer, bs []mgmt.Binding) {
	if len(bs) == 0 {
		fmt.Fprintln(w, "no bindings")
		return
	}
	t := newTable(w, "MN", "HNP", "PROXY-COA", "STATE", "ATT", "HI", "EXPIRES-IN")
	for _, b := range bs {
		t.row(b.MN, joinStrings(b.HNPs), b.ProxyCoA.String(), b.State, b.ATTName, strconv.Itoa(int(b.HI)), secs(b.Remaining))
	}
	t.flush()
}

func showBindings(w io.Writer, bs []mgmt.Binding) {
	for i, b := range bs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		t := newTable(w, "MN:", b.MN+" ("+b.MNIDType+")")
		t.row("HNPs:", joinStrings(b.HNPs))
		t.row("Proxy-CoA:", b.ProxyCoA.String())
		ll := "-"
		if b.LinkLocal.IsValid() {
			ll = b.LinkLocal.String()
		}
		t.row("MAG link-local:", ll)
		t.row("MN LL-ID:", dash(b.LinkLayerID))
		t.row("ATT:", fmt.Sprintf("%d (%s)", b.ATT, b.ATTName))
		t.row("HI:", strconv.Itoa(int(b.HI)))
		state := b.State
		if b.Held {
			state += " (a PBU waits for its de-registration)"
		}
		t.row("State:", state)
		t.row("Sequence:", strconv.Itoa(int(b.Sequence)))
		if b.Timestamp != 0 {
			t.row("Timestamp:", fmt.Sprintf("%#x", b.Timestamp))
		}
		t.row("Lifetime:", fmt.Sprintf("%s (expires %s, in %s)", secs(b.Lifetime), timeStr(b.Expires), secs(b.Remaining)))
		t.row("Created:", timeStr(b.Created))
		t.flush()
	}
}

func printRevoke(w io.Writer, r mgmt.RevokeResponse, noWait bool) int {
	if noWait {
		fmt.Fprintf(w, "revocation started for %d binding(s)\n", r.Started)
		return exitOK
	}
	st := exitOK
	for _, x := range r.Results {
		var what string
		switch {
		case x.Superseded:
			what = "not revoked: the MAG registered it again meanwhile"
			st = exitFail
		case x.Acked && x.Removed:
			what = fmt.Sprintf("revoked (BRA status %d: %s)", x.Status, x.StatusName)
		case x.Acked:
			what = fmt.Sprintf("not revoked (BRA status %d: %s)", x.Status, x.StatusName)
			st = exitFail
		case x.TimedOut:
			what = "removed without acknowledgement (no BRA after the retries)"
		case x.Removed:
			what = "removed (it expired or was replaced meanwhile)"
		default:
			what = "outcome unknown"
			st = exitFail
		}
		fmt.Fprintf(w, "%s %s at %s: %s\n", x.MN, joinStrings(x.HNPs), x.MAG, what)
	}
	return st
}
