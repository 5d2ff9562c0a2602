#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo use, when missing.
# Run as root on Debian 12 (CI and a newcomer's machine alike). Go itself
# must already be installed (Go 1.26); modules come from the Go proxy.
set -euo pipefail

# binary:package pairs
need=(
  tshark:tshark          # outside check of the codec and the fixture corpus (issue 2)
  ip:iproute2            # network namespaces, veth, routes (data plane tests, demo)
  ping:iputils-ping      # pings through the tunnels (interop/e2e, make demo)
  etcd:etcd-server       # the LMs' and HAAs' shared store (interop/e2e DMM tests, make demo)
  curl:curl              # etcd health check (interop/e2e, make demo)
  jq:jq                  # make demo: reading pmipctl --json output
  column:bsdextrautils   # make demo: aligning tables
)

missing=()
for pair in "${need[@]}"; do
  bin=${pair%%:*} pkg=${pair##*:}
  command -v "$bin" >/dev/null 2>&1 || missing+=("$pkg")
done

if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing ${missing[*]} and not root: install them with apt-get" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # wireshark-common asks whether non-root users may capture: answer no.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null 2>&1 || { echo "deps: Go 1.26 is required (go not on PATH)" >&2; exit 1; }
echo "deps: ok ($(go version | cut -d' ' -f3), tshark $(tshark --version 2>/dev/null | head -1 | awk '{print $3}'))"
