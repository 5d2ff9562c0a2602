// Command pmipdemo holds the small tools of `make demo` and of the
// namespace end-to-end tests (interop/e2e):
//
//	pmipdemo recv [-listen [::]:5000] [-timeout 30s] [-json]
//	    receive a sequence-numbered UDP stream; print packets lost,
//	    duplicates, reordering and the longest gap between two arrivals
//	pmipdemo send -to [ADDR]:PORT [-rate 500] [-duration 5s]
//	    send that stream (bounded: rate x duration packets, then FINs)
//	pmipdemo show -socket PATH (status|bindings|bul|counters|dataplane)
//	    print a pmipd's state from its management socket as a table
//	    (-json for the raw reply)
package main

import (
	"fmt"
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: pmipdemo recv|send|show [flags]")
		return 2
	}
	switch args[0] {
	case "recv":
		return cmdRecv(args[1:], stdout, stderr)
	case "send":
		return cmdSend(args[1:], stdout, stderr)
	case "show":
		return cmdShow(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "pmipdemo: unknown command %q (recv, send, show)\n", args[0])
	return 2
}
