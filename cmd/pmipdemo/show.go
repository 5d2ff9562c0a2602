package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

// paths are the management API endpoints (internal/mgmt) show reads.
var paths = map[string]string{"status": "/v1/status", "bindings": "/v1/bindings", "bul": "/v1/bul",
	"counters": "/v1/counters", "dataplane": "/v1/dataplane"}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func cmdShow(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pmipdemo show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sock := fs.String("socket", "/run/pmipd/pmipd.sock", "management socket `path` of the pmipd")
	raw := fs.Bool("json", false, "print the JSON reply as it is")
	if fs.Parse(args) != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: pmipdemo show -socket PATH (status|bindings|bul|counters|dataplane)")
		return 2
	}
	what := fs.Arg(0)
	path := paths[what]
	if path == "" {
		fmt.Fprintf(stderr, "pmipdemo show: unknown %q\n", what)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var b json.RawMessage
	if err := mgmt.NewClient(*sock).Do(ctx, http.MethodGet, path, nil, &b); err != nil {
		fmt.Fprintln(stderr, "pmipdemo show:", err)
		return 1
	}
	if *raw || what == "status" {
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	defer tw.Flush()
	fail := func(err error) int {
		fmt.Fprintln(stderr, "pmipdemo show:", err)
		return 1
	}
	switch what {
	case "bindings":
		var r struct{ Bindings []mgmt.Binding }
		if err := json.Unmarshal(b, &r); err != nil {
			return fail(err)
		}
		fmt.Fprintln(tw, "MN-ID\tHNP\tPROXY-COA (MAG)\tSTATE\tHI\tATT\tLIFETIME\tEXPIRES IN")
		for _, x := range r.Bindings {
			exp := "-"
			if x.State == "active" {
				exp = (time.Duration(x.Remaining) * time.Second).String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%v\t%s\n", x.MN, joinPrefixes(x.HNPs), x.ProxyCoA, x.State,
				x.HI, x.ATT, time.Duration(x.Lifetime)*time.Second, exp)
		}
		if len(r.Bindings) == 0 {
			fmt.Fprintln(tw, "(empty)")
		}
	case "bul":
		var r struct{ BUL []mgmt.BULEntry }
		if err := json.Unmarshal(b, &r); err != nil {
			return fail(err)
		}
		fmt.Fprintln(tw, "MN-ID\tINTERFACE\tLMA\tHNP\tSTATE\tHI\tLIFETIME")
		for _, x := range r.BUL {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%v\n", x.MNID, x.Interface, x.LMA, joinPrefixes(x.HNPs), x.State, x.HI,
				time.Duration(x.Lifetime)*time.Second)
		}
		if len(r.BUL) == 0 {
			fmt.Fprintln(tw, "(empty)")
		}
	case "counters":
		var r struct{ Counters []mgmt.Counter }
		if err := json.Unmarshal(b, &r); err != nil {
			return fail(err)
		}
		fmt.Fprintln(tw, "ROLE\tCOUNTER\tKEY\tVALUE")
		for _, x := range r.Counters {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", x.Role, x.Name, x.Key, x.Value)
		}
	case "dataplane":
		var d mgmt.Dataplane
		if err := json.Unmarshal(b, &d); err != nil {
			return fail(err)
		}
		fmt.Fprintln(tw, "KIND\tPREFIX\tTUNNEL TO\tDEV")
		for _, x := range d.Entries {
			remote := ""
			if x.Remote.IsValid() {
				remote = x.Remote.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Kind, x.Prefix, remote, x.Dev)
		}
	}
	return 0
}
