package main

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

var locationsCmd = &command{
	Name: "locations",
	Args: "(--address A | --prefix P | --mn M) [--json] [--socket PATH]",
	Summary: "Query the Location Management function (DMM): where a home address, a prefix or the\n" +
		"prefixes of a mobile node are anchored and which MR serves them now.",
}

func init() {
	locationsCmd.Run = runLocations
	register(locationsCmd)
}

func runLocations(args []string, stdout, stderr io.Writer) int {
	c := locationsCmd
	fs := newFlagSet(c, stderr)
	f := addAPIFlags(fs)
	addr := fs.String("address", "", "the record covering this home address (longest prefix)")
	prefix := fs.String("prefix", "", "the record of this prefix")
	mn := fs.String("mn", "", "every record of this mobile node (MN-ID)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if st, ok := noArgs(c, stderr, pos); !ok {
		return st
	}
	var q mgmt.LocationQuery
	n := 0
	if *addr != "" {
		n++
		if q.Address, err = netip.ParseAddr(*addr); err != nil {
			return usageError(c, stderr, fmt.Sprintf("--address %q: not an address", *addr))
		}
	}
	if *prefix != "" {
		n++
		if q.Prefix, err = netip.ParsePrefix(*prefix); err != nil {
			return usageError(c, stderr, fmt.Sprintf("--prefix %q: not a prefix", *prefix))
		}
	}
	if *mn != "" {
		n++
		q.MN = *mn
	}
	if n != 1 {
		return usageError(c, stderr, "give exactly one of --address, --prefix and --mn")
	}
	var r struct{ Locations []mgmt.Location }
	st, ok := f.call(c, stdout, stderr, http.MethodGet, mgmt.LocationsPath(q), nil, &r)
	if !ok {
		return st
	}
	if len(r.Locations) == 0 {
		fmt.Fprintln(stdout, "no location")
		return st
	}
	t := newTable(stdout, "MN", "PREFIX", "ANCHOR-MR", "CURRENT-MR", "SEQUENCE", "EXPIRES-IN")
	for _, l := range r.Locations {
		t.row(l.MNID, l.Prefix.String(), l.AnchorMR.String(), l.CurrentMR.String(), strconv.FormatUint(l.Sequence, 10), secs(l.Remaining))
	}
	t.flush()
	return st
}
