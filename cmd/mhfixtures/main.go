// Command mhfixtures (re)writes the Mobility Header fixture corpus: pcap
// files of hand-built messages, a JSON file of expected values per pcap
// and a README (package internal/fixturegen).
//
//	go run ./cmd/mhfixtures -out interop/fixtures
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/pmipdmm/pmipdmm/internal/fixturegen"
)

func main() {
	out := flag.String("out", "interop/fixtures", "directory to write the corpus into")
	flag.Parse()
	if err := fixturegen.Write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "mhfixtures:", err)
		os.Exit(1)
	}
}
