#!/usr/bin/env bash
# make demo: the centralized Proxy Mobile IPv6 story (RFC 5213) in network
# namespaces, with the real pmipd daemons.
#
#   MN --acc-- MAG1 --core--\
#                            sw (bridge) --core-- LMA --cn-- CN
#        (acc) MAG2 --core--/
#
# 1. attach: the MN (a plain namespace) gets its address by SLAAC from the
#    home network prefix MAG1 advertises after its PBU/PBA with the LMA;
# 2. ping MN -> CN and CN -> MN through the tunnels;
# 3. handover MAG1 -> MAG2 (the MAG end of the MN's link moves) with a UDP
#    stream each way; the loss and the longest gap are measured;
# 4. detach at MAG2: de-registration, routes removed, binding deleted after
#    MinDelayBeforeBCEDelete;
# 5. stop: SIGTERM, nothing left in the kernel.
#
# Then scripts/demo-dmm.sh tells the Distributed Mobility Management story
# of draft-luo-dmm-with-mip-and-pmip-00 on its Figure 1 (§4.1 attachment,
# Figure 3 routing, Figure 5 handover, §4.2 new prefix).
#
# Needs root (namespaces). Everything is removed on exit, failure included.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "demo: needs root (network namespaces)" >&2
  exit 1
fi

work=$(mktemp -d /tmp/pmipdemo.XXXXXX)
P="pd$$"                       # namespace name prefix (unique per run)
NODES=(sw lma mag1 mag2 mn cn)
declare -A PID=()
ok=0

cleanup() {
  set +e
  for n in mag1 mag2 lma; do
    [ -n "${PID[$n]:-}" ] && kill -TERM "${PID[$n]}" 2>/dev/null
  done
  for n in mag1 mag2 lma; do
    p=${PID[$n]:-}
    [ -z "$p" ] && continue
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  if [ "$ok" != 1 ]; then
    echo
    echo "== the demo FAILED; last lines of the daemon logs:"
    for n in lma mag1 mag2; do
      [ -f "$work/$n.log" ] && { echo "-- $n"; tail -n 15 "$work/$n.log"; }
    done
  fi
  for n in "${NODES[@]}"; do ip netns del "$P$n" 2>/dev/null; done
  rm -rf "$work"
  echo "cleaned up (namespaces ${P}*, daemons, $work)"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
ns() { local n=$1; shift; ip netns exec "$P$n" "$@"; }
show() { "$work/pmipdemo" show -socket "$work/run/$1.sock" "$2" | sed 's/^/    /'; }
fail() { echo "demo: $*" >&2; exit 1; }

say "1. build pmipd and pmipdemo"
go build -o "$work/" ./cmd/pmipd ./cmd/pmipdemo
echo "binaries in $work"

say "2. namespaces and links"
for n in "${NODES[@]}"; do ip netns add "$P$n"; ip -n "$P$n" link set lo up; done
ip -n "${P}sw" link add br0 type bridge
ip -n "${P}sw" link set br0 up
for n in lma mag1 mag2; do
  ip link add core netns "$P$n" type veth peer name "p-$n" netns "${P}sw"
  ip -n "${P}sw" link set "p-$n" master br0
  ip -n "${P}sw" link set "p-$n" up
  ip -n "$P$n" link set core up
done
ip -n "${P}lma"  addr add 2001:db8:ff::2/64  dev core nodad
ip -n "${P}mag1" addr add 2001:db8:ff::11/64 dev core nodad
ip -n "${P}mag2" addr add 2001:db8:ff::12/64 dev core nodad
ip link add cn netns "${P}lma" type veth peer name eth0 netns "${P}cn"
ip -n "${P}lma" link set cn up
ip -n "${P}cn" link set eth0 up
ip -n "${P}lma" addr add 2001:db8:c::1/64 dev cn nodad
ip -n "${P}cn" addr add 2001:db8:c::2/64 dev eth0 nodad
ip -n "${P}cn" -6 route add default via 2001:db8:c::1
ip link add acc netns "${P}mag1" type veth peer name eth0 netns "${P}mn"
ip -n "${P}mn" link set eth0 address 02:00:00:00:01:01
cat <<EOF
  core link (bridge in ${P}sw): LMA 2001:db8:ff::2, MAG1 2001:db8:ff::11, MAG2 2001:db8:ff::12
  CN 2001:db8:c::2 behind the LMA (2001:db8:c::1)
  MN ${P}mn eth0 02:00:00:00:01:01 <-> ${P}mag1 acc (the MAG end of the MN's link)
  mobile node prefixes from 2001:db8:100::/48 (configs/e2e-lma.yaml)
EOF

say "3. start the daemons (configs/e2e-{lma,mag1,mag2}.yaml)"
mkdir -p "$work/run"
for n in lma mag1 mag2; do
  sed "s#/run/pmipd-e2e#$work/run#" "configs/e2e-$n.yaml" > "$work/$n.yaml"
  "$work/pmipd" -c "$work/$n.yaml" --dry-run
  ip netns exec "$P$n" "$work/pmipd" -c "$work/$n.yaml" > "$work/$n.log" 2>&1 &
  PID[$n]=$!
done
for n in lma mag1 mag2; do
  for _ in $(seq 100); do [ -S "$work/run/$n.sock" ] && break; sleep 0.1; done
  [ -S "$work/run/$n.sock" ] || fail "$n did not start"
  echo "  $n: pid ${PID[$n]}, log $work/$n.log, management socket $work/run/$n.sock"
done
grep -h 'data plane selected' "$work/lma.log" | sed 's/^/  /'

say "4. attach: the MN's link comes up at MAG1"
t0=$(date +%s.%N)
ip -n "${P}mn" link set eth0 up
addr=""
for _ in $(seq 60); do
  addr=$(ns mn ip -6 addr show dev eth0 scope global | awk '/inet6 2001:db8:100:/ && !/tentative/ {sub("/.*","",$2); print $2; exit}')
  [ -n "$addr" ] && break
  sleep 0.25
done
[ -n "$addr" ] || fail "the MN got no address from its home network prefix"
printf '  MN address %s (SLAAC) after %s s\n' "$addr" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')"
grep -h 'mobile node attached\|PBA accepted' "$work/mag1.log" | sed 's/^/  mag1: /'
echo "  LMA binding cache:"; show lma bindings
echo "  MAG1 binding update list:"; show mag1 bul
echo "  MAG1 data plane:"; show mag1 dataplane
echo "  LMA data plane:"; show lma dataplane
echo "  LMA kernel routes (protocol 180):"
ip -n "${P}lma" -6 route show proto 180 | sed 's/^/    /'

say "5. ping both ways through the tunnels"
ns mn ping -n -c 3 -i 0.2 -W 2 2001:db8:c::2 | sed 's/^/  /' | tail -n 3
ns cn ping -n -c 3 -i 0.2 -W 2 "$addr" | sed 's/^/  /' | tail -n 3

say "6. handover MAG1 -> MAG2 with a UDP stream each way (500 packets/s, 7 s; the link moves at 1.5 s)"
ns cn "$work/pmipdemo" recv -listen '[::]:5000' -timeout 20s > "$work/up.txt" 2>/dev/null &
rup=$!
ns mn "$work/pmipdemo" recv -listen '[::]:5001' -timeout 20s > "$work/down.txt" 2>/dev/null &
rdown=$!
sleep 0.3
ns mn "$work/pmipdemo" send -to '[2001:db8:c::2]:5000' -rate 500 -duration 7s > /dev/null &
s1=$!
ns cn "$work/pmipdemo" send -to "[$addr]:5001" -rate 500 -duration 7s > /dev/null &
s2=$!
sleep 1.5
n1=$(wc -l < "$work/mag1.log"); n2=$(wc -l < "$work/mag2.log")
echo "  $(date +%T.%N | cut -c1-12) ip link set acc netns MAG2"
ip -n "${P}mag1" link set acc netns "${P}mag2"
wait $s1 $s2 $rup $rdown
{ tail -n +$((n1 + 1)) "$work/mag1.log"; tail -n +$((n2 + 1)) "$work/mag2.log"; } \
  | grep 'access link\|mobile node attached\|PBA accepted\|de-registration acknowledged' | sort | sed 's/^/  /'
echo "  uplink   MN -> CN: $(cat "$work/up.txt")"
echo "  downlink CN -> MN: $(cat "$work/down.txt")"
now=$(ns mn ip -6 addr show dev eth0 scope global | awk '/inet6 2001:db8:100:/ {sub("/.*","",$2); print $2; exit}')
echo "  MN address after the handover: $now (before: $addr)"
[ "$now" = "$addr" ] || fail "the MN lost its address"
echo "  LMA binding cache:"; show lma bindings
echo "  MAG2 binding update list:"; show mag2 bul
ns cn ping -n -c 2 -i 0.2 -W 2 "$addr" | sed 's/^/  /' | tail -n 2

say "7. detach: the MN's link goes down at MAG2"
ip -n "${P}mag2" link set acc down
sleep 0.5
grep -h 'de-registering\|de-registration acknowledged' "$work/mag2.log" | tail -n 2 | sed 's/^/  mag2: /'
echo "  LMA binding cache (de-registered, kept MinDelayBeforeBCEDelete = 5 s):"; show lma bindings
echo "  LMA routes for the prefix: $(ip -n "${P}lma" -6 route show proto 180 | grep -c 2001:db8:100: || true)"
echo "  MAG2 data plane:"; show mag2 dataplane
sleep 5
echo "  LMA binding cache 5 s later:"; show lma bindings

say "8. stop the daemons (SIGTERM): nothing is left in the kernel"
for n in mag1 mag2 lma; do kill -TERM "${PID[$n]}"; done
for n in mag1 mag2 lma; do wait "${PID[$n]}" && echo "  $n exited 0"; PID[$n]=""; done
for n in lma mag1 mag2; do
  r=$(ip -n "$P$n" -6 route show table all proto 180 | wc -l)
  rules=$(ip -n "$P$n" -6 rule | tr '\n' ' ')
  echo "  $n: $r routes with protocol 180; rules: $rules"
  [ "$r" = 0 ] || fail "$n: routes left"
done

ok=1
say "done (centralized)"
trap - EXIT
cleanup
exec scripts/demo-dmm.sh
