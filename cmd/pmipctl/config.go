package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

var configCmd = &command{
	Name: "config",
	Args: "check FILE [--daemon] [--json] [--socket PATH]",
	Summary: "Validate a configuration file: every problem as `key: reason`. Locally by default (no\n" +
		"daemon needed); with --daemon (or --socket/--url) the running pmipd checks it and also\n" +
		"tells what a reload (SIGHUP) would change. Exit status 1 when the file is invalid.",
}

func init() {
	configCmd.Run = runConfig
	register(configCmd)
}

func runConfig(args []string, stdout, stderr io.Writer) int {
	c := configCmd
	fs := newFlagSet(c, stderr)
	f := addAPIFlags(fs)
	daemon := fs.Bool("daemon", false, "have the running pmipd check the file and compare it with its configuration")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) == 0 || pos[0] != "check" {
		return usageError(c, stderr, "the only action is check")
	}
	if len(pos) != 2 {
		return usageError(c, stderr, "check needs one configuration file")
	}
	file := pos[1]
	yaml, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "pmipctl config: %v\n", err)
		return exitFail
	}
	var res mgmt.ConfigCheck
	if *daemon || f.set("socket") || f.set("url") {
		var raw json.RawMessage
		asJSON := f.asJSON
		f.asJSON = false // decode to know the verdict; print the raw answer below
		st, ok := f.call(c, stdout, stderr, http.MethodPost, "/v1/config/check", yaml, &raw)
		if !ok {
			return st
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			fmt.Fprintf(stderr, "pmipctl config: decoding the answer: %v\n", err)
			return exitFail
		}
		if asJSON {
			printJSON(stdout, raw)
			return verdict(res)
		}
	} else {
		res = mgmt.CheckConfig(yaml, nil)
		if f.asJSON {
			b, _ := json.Marshal(res)
			printJSON(stdout, b)
			return verdict(res)
		}
	}
	if !res.Valid {
		fmt.Fprintf(stdout, "%s: invalid configuration\n", file)
		for _, p := range res.Problems {
			fmt.Fprintln(stdout, "  "+p.String())
		}
		return exitFail
	}
	fmt.Fprintf(stdout, "%s: valid\n", file)
	for _, l := range res.Changes {
		fmt.Fprintln(stdout, "  "+l)
	}
	return exitOK
}

func verdict(r mgmt.ConfigCheck) int {
	if r.Valid {
		return exitOK
	}
	return exitFail
}
