// Package e2e runs the real pmipd binaries in network namespaces: the
// centralized RFC 5213 story MN - MAG1 / MAG2 - LMA - CN, end to end.
//
// Each node is a network namespace (internal/netnstest, removed at the end
// even on failure); the core link is a bridge in its own namespace; the MN
// is a plain namespace that configures its address by SLAAC from the MAG's
// Router Advertisement. pmipd is built once with `go build` into the
// test's temporary directory and run with `ip netns exec NS pmipd -c cfg`
// (configs/e2e-*.yaml with the runtime paths moved into that directory);
// the tests read the daemons' state from their management sockets and
// their logs, and stop them with SIGTERM. The UDP streams are pmipdemo
// send/recv. Every wait is bounded.
package e2e
