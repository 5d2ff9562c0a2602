#!/usr/bin/env bash
# make demo: what the project can show today.
#
# The codec part runs now: build, write the dissector fixture corpus, decode
# it with pmipctl and with Wireshark's tshark side by side. The network
# namespace scenarios (the centralized RFC 5213 story and the draft's
# Figure 1 DMM story) are added with the LMA/MAG and DMM roles.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== 1. build"
go build -o "$work/" ./cmd/... && ls "$work"

echo
echo "== 2. write the fixture corpus (every typed message and option, plus malformed ones)"
"$work/mhfixtures" -out "$work/fixtures"
ls "$work/fixtures"

echo
echo "== 3. pmipctl decode of the RFC 5213 PBU/PBA exchange"
f=$(ls "$work"/fixtures/*.pcap | head -1)
"$work/pmipctl" decode "$f" | head -20

echo
echo "== 4. the same capture through tshark's mip6 dissector"
tshark -r "$f" -Y mip6 2>/dev/null | head -10

echo
echo "== 5. a legacy peer (OAI PMIPv6): strict decode, then --legacy"
peer=../shared/fixtures/peers/live_oai_pmip6d_nsrun.pcap
if [ -r "$peer" ]; then
  "$work/pmipctl" decode "$peer" 2>&1 | head -4
  echo "-- with --legacy:"
  "$work/pmipctl" decode --legacy "$peer" 2>&1 | head -4
fi

echo
echo "The namespace scenarios (MN - MAG1/MAG2 - LMA - CN; the draft's Figure 1 with"
echo "MR/HAA/LM) are not in this build yet: they arrive with the LMA/MAG and DMM roles."
