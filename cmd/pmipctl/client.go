package main

// Shared parts of the commands that talk to pmipd's management API
// (package internal/mgmt): the --socket, --url, --token-file and --json
// flags, the client, JSON and table output, and error reporting.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

// socketEnv overrides the default socket path.
const socketEnv = "PMIPCTL_SOCKET"

// requestTimeout bounds one API call (a revocation waits for BRAs: the
// daemon bounds that wait at 30 s).
const requestTimeout = 45 * time.Second

// apiFlags are the flags of every API command.
type apiFlags struct {
	fs        *flag.FlagSet
	socket    string
	url       string
	tokenFile string
	asJSON    bool
}

func addAPIFlags(fs *flag.FlagSet) *apiFlags {
	f := &apiFlags{fs: fs}
	def := os.Getenv(socketEnv)
	if def == "" {
		def = config.DefaultSocket
	}
	fs.StringVar(&f.socket, "socket", def, "pmipd management socket (config management.socket; env "+socketEnv+")")
	fs.StringVar(&f.url, "url", "", "reach the API over loopback TCP instead, e.g. http://127.0.0.1:9470 (needs --token-file)")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token of the TCP API")
	fs.BoolVar(&f.asJSON, "json", false, "print the API's JSON answer")
	return f
}

// set reports whether flag name was given on the command line.
func (f *apiFlags) set(name string) bool {
	found := false
	f.fs.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	return found
}

// where names the daemon endpoint, for error messages.
func (f *apiFlags) where() string {
	if f.url != "" {
		return f.url
	}
	return f.socket
}

func (f *apiFlags) client() (*mgmt.Client, error) {
	if f.url == "" {
		return mgmt.NewClient(f.socket), nil
	}
	if f.tokenFile == "" {
		return nil, errors.New("--url needs --token-file")
	}
	tok, err := mgmt.ReadToken(f.tokenFile)
	if err != nil {
		return nil, err
	}
	return mgmt.NewHTTPClient(f.url, &http.Client{Timeout: requestTimeout}, tok), nil
}

// call runs one API request: it decodes the answer into out, or into raw
// JSON when --json is set (then printed indented to stdout). It reports
// errors on stderr and returns the exit status, and ok when the caller
// should print out.
func (f *apiFlags) call(c *command, stdout, stderr io.Writer, method, path string, body []byte, out any) (int, bool) {
	cl, err := f.client()
	if err != nil {
		fmt.Fprintf(stderr, "pmipctl %s: %v\n", c.Name, err)
		return exitFail, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var raw json.RawMessage
	target := out
	if f.asJSON {
		target = &raw
	}
	if err := cl.Do(ctx, method, path, body, target); err != nil {
		var ae *mgmt.Error
		if errors.As(err, &ae) {
			fmt.Fprintf(stderr, "pmipctl %s: %s\n", c.Name, ae.Detail)
		} else {
			fmt.Fprintf(stderr, "pmipctl %s: cannot reach pmipd at %s: %v\n", c.Name, f.where(), err)
		}
		return exitFail, false
	}
	if f.asJSON {
		printJSON(stdout, raw)
		return exitOK, false
	}
	return exitOK, true
}

// printJSON prints a JSON document indented by two spaces.
func printJSON(w io.Writer, raw []byte) {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		w.Write(raw)
		return
	}
	b.WriteByte('\n')
	w.Write(b.Bytes())
}

// table writes aligned columns: header first, then rows.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }

func (t *table) flush() { t.tw.Flush() }

// ---- cell formats ----

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinStrings[T fmt.Stringer](xs []T) string {
	if len(xs) == 0 {
		return "-"
	}
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}

// secs renders a number of seconds as a duration ("1h0m0s").
func secs(n int64) string { return (time.Duration(n) * time.Second).String() }

func timeStr(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// noArgs checks that a command got no positional argument.
func noArgs(c *command, stderr io.Writer, pos []string) (int, bool) {
	if len(pos) > 0 {
		return usageError(c, stderr, fmt.Sprintf("unexpected argument %q", pos[0])), false
	}
	return exitOK, true
}
