package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"
)

// get fetches path from the management API on the Unix socket sock.
func get(sock, path string) ([]byte, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
	resp, err := c.Get("http://pmipd" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

type binding struct {
	MN        string
	HNPs      []string
	ProxyCoA  string
	LinkLocal string
	ATT       int
	HI        int
	State     int
	Lifetime  time.Duration
	Expires   time.Time
}

type bulEntry struct {
	MNID      string
	Interface string
	LMA       string
	HNPs      []string
	State     string
	HI        int
	Lifetime  time.Duration
	Expires   time.Time
}

var bceStates = []string{"active", "deregistered", "revoking"}

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
	path := map[string]string{"status": "/v1/status", "bindings": "/v1/lma/bindings", "bul": "/v1/mag/bul",
		"dataplane": "/v1/dataplane"}[what]
	if what == "counters" {
		path = "/v1/lma/counters"
		if b, err := get(*sock, "/v1/status"); err == nil && strings.Contains(string(b), `"mag"`) {
			path = "/v1/mag/counters"
		}
	}
	if path == "" {
		fmt.Fprintf(stderr, "pmipdemo show: unknown %q\n", what)
		return 2
	}
	b, err := get(*sock, path)
	if err != nil {
		fmt.Fprintln(stderr, "pmipdemo show:", err)
		return 1
	}
	if *raw || what == "status" || what == "counters" {
		fmt.Fprint(stdout, string(b))
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	defer tw.Flush()
	switch what {
	case "bindings":
		var bs []binding
		if err := json.Unmarshal(b, &bs); err != nil {
			fmt.Fprintln(stderr, "pmipdemo show:", err)
			return 1
		}
		fmt.Fprintln(tw, "MN-ID\tHNP\tPROXY-COA (MAG)\tSTATE\tHI\tATT\tLIFETIME\tEXPIRES IN")
		for _, x := range bs {
			st := fmt.Sprint(x.State)
			if x.State >= 0 && x.State < len(bceStates) {
				st = bceStates[x.State]
			}
			exp := "-"
			if x.State == 0 {
				exp = time.Until(x.Expires).Round(time.Second).String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%v\t%s\n", x.MN, strings.Join(x.HNPs, ","), x.ProxyCoA, st,
				x.HI, x.ATT, x.Lifetime, exp)
		}
		if len(bs) == 0 {
			fmt.Fprintln(tw, "(empty)")
		}
	case "bul":
		var es []bulEntry
		if err := json.Unmarshal(b, &es); err != nil {
			fmt.Fprintln(stderr, "pmipdemo show:", err)
			return 1
		}
		fmt.Fprintln(tw, "MN-ID\tINTERFACE\tLMA\tHNP\tSTATE\tHI\tLIFETIME")
		for _, x := range es {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%v\n", x.MNID, x.Interface, x.LMA, strings.Join(x.HNPs, ","), x.State, x.HI, x.Lifetime)
		}
		if len(es) == 0 {
			fmt.Fprintln(tw, "(empty)")
		}
	case "dataplane":
		var es []struct{ Kind, Prefix, Remote, Dev string }
		if err := json.Unmarshal(b, &es); err != nil {
			fmt.Fprintln(stderr, "pmipdemo show:", err)
			return 1
		}
		fmt.Fprintln(tw, "KIND\tPREFIX\tTUNNEL TO\tDEV")
		for _, x := range es {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Kind, x.Prefix, x.Remote, x.Dev)
		}
	}
	return 0
}
