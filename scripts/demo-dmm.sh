#!/usr/bin/env bash
# make demo, part 2: the Figure 1 story of draft-luo-dmm-with-mip-and-pmip-00
# (Distributed Mobility Management) in network namespaces, with the real
# pmipd daemons and the configs/dmm-*.yaml files (the layout of
# interop/e2e/dmm_topo_test.go):
#
#   local network 1 (br1, 2001:db8:1::/64): MR11 ::11, MR12 ::12, LM1/HAA1 ::a/::b
#   local network 2 (br2, 2001:db8:2::/64): MR2 ::20, LM2/HAA2 ::a/::b
#   local network 3 (br3, 2001:db8:3::/64): MR31 ::31, MR32 ::32, LM3 ::a, HAA3 ::b
#   bb: the backbone router (::1 on br1-br3) routing each MR's pool
#       (2001:db8:<11|12|20|31|32>::/48) to that MR, and etcd (2001:db8:d::1),
#       the store every LM and HAA shares
#   MN1: a plain host behind an access point (namespace ap, a bridge) with a
#        port to MR12 (up at first), MR11 and MR2; a handover switches ports
#   MN2: a plain host on a link to MR31
#
# The story (each step tied to the draft's section or figure):
#   §4.1      MN1 attaches at MR12 (its home address is anchored at MR12,
#             the assumption of §4.3), MN2 at MR31; MN1 then moves to MR11
#   Figure 3  MN2 -> MN1: MR31 asks its LM where MN1's prefix is and
#             tunnels straight to MR11 (not through the anchor MR12)
#   Figure 5  a 1000 packet/s UDP stream MN2 -> MN1 while MN1 moves
#             MR11 -> MR2 (its access point switches from the port to
#             MR11 to the port to MR2): context transfer, temporary forwarding
#             MR11 -> MR2, redirect of MR31, loss and longest gap
#   §4.2      MR2 gives MN1 a new prefix anchored at itself; the old
#             address is deprecated but keeps working, a new session uses
#             the new prefix
#
# The path of the packets is read from captures on the backbone's ports
# (every node's link to the backbone), the signalling is decoded by
# `pmipctl decode` (the project's codec). Needs root; everything is removed
# on exit, failure included: namespaces, daemons, etcd, captures.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "demo-dmm: needs root (network namespaces)" >&2
  exit 1
fi
for b in etcd tshark curl jq column; do
  command -v "$b" >/dev/null || { echo "demo-dmm: $b missing (scripts/deps.sh installs it)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/pmipdmm-demo.XXXXXX)
chmod 755 "$work"
P="pm$$"                       # namespace name prefix (unique per run)
NODES=(bb mr11 mr12 lmhaa1 mr2 lmhaa2 mr31 mr32 lm3 haa3 mn1 mn2 ap)
DAEMONS=(lmhaa1 lmhaa2 lm3 haa3 mr11 mr12 mr2 mr31 mr32)
declare -A PID=()
BG=()                          # other background processes (etcd, captures, streams)
ok=0

cleanup() {
  set +e
  for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for n in "${DAEMONS[@]}"; do
    [ -n "${PID[$n]:-}" ] && kill -TERM "${PID[$n]}" 2>/dev/null
  done
  for n in "${DAEMONS[@]}"; do
    p=${PID[$n]:-}
    [ -z "$p" ] && continue
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  for p in "${BG[@]}"; do
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  # Whatever still runs in the demo's namespaces (nothing, normally).
  for n in "${NODES[@]}"; do
    for p in $(ip netns pids "$P$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  wait 2>/dev/null
  if [ "$ok" != 1 ]; then
    echo
    echo "== the DMM demo FAILED; last lines of the logs:"
    for n in "${DAEMONS[@]}" etcd; do
      [ -f "$work/$n.log" ] && { echo "-- $n"; grep -v 'management request' "$work/$n.log" | tail -n 8; }
    done
  fi
  for n in "${NODES[@]}"; do ip netns del "$P$n" 2>/dev/null; done
  if [ -n "${DEMO_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
  echo "cleaned up (namespaces ${P}*, daemons, etcd, captures, $work)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }
note() { printf '%s\n' "$@" | sed 's/^/   /'; }
ns() { local n=$1; shift; ip netns exec "$P$n" "$@"; }
fail() { echo "demo-dmm: $*" >&2; exit 1; }
now() { date +%s.%N; }
ctl() { local n=$1; shift; "$work/pmipctl" "$@" --socket "$work/run/$n.sock"; }
# counter NODE NAME: the value of the MR counter mr/NAME (0 if absent).
counter() {
  ctl "$1" counters --all --json | jq -r --arg n "$2" \
    '[(.counters // .Counters)[] | select(.role == "mr" and .name == $n and ((.key // "") == "")) | .value] | add // 0'
}
# waitfor SECONDS WHAT COMMAND...: poll COMMAND every 0.1 s.
waitfor() {
  local t=$1 what=$2; shift 2
  local end; end=$(awk -v n="$(now)" -v t="$t" 'BEGIN{printf "%.1f", n+t}')
  until "$@" >/dev/null 2>&1; do
    awk -v n="$(now)" -v e="$end" 'BEGIN{exit !(n > e)}' && fail "timed out after ${t} s waiting for $what"
    sleep 0.1
  done
}
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.0f", (b-a)*1000}'; }

# Names of the domain's addresses, for the captures and the decoded lines.
declare -A ADDR=(
  [MR11]=2001:db8:1::11 [MR12]=2001:db8:1::12 [LM1]=2001:db8:1::a [HAA1]=2001:db8:1::b
  [MR2]=2001:db8:2::20 [LM2]=2001:db8:2::a [HAA2]=2001:db8:2::b
  [MR31]=2001:db8:3::31 [MR32]=2001:db8:3::32 [LM3]=2001:db8:3::a [HAA3]=2001:db8:3::b
)
namesed="$work/names.sed"
for k in "${!ADDR[@]}"; do
  printf 's/(^|[^0-9a-f:])%s([^0-9a-f:]|$)/\\1%s\\2/g\n' "${ADDR[$k]}" "$k"
done > "$namesed"
names() { sed -E -f "$namesed"; }
# table: a management table with the addresses named, realigned.
table() { names | column -t | sed 's/^/     /'; }

# --- captures on the backbone ------------------------------------------------
# Every node's link to the backbone is "p-<node>" in bb (a port of brN), so a
# packet between two nodes enters bb once (on the sender's port) and leaves
# it once (on the receiver's port). pmipdemo capture is a plain AF_PACKET
# reader (dumpcap's ring loses the first packets of an idle port): nothing
# sent after its -ready file exists is missed.
CAPS=()
# capture NAME DIR: record the IPv6 packets entering (in) or leaving (out)
# the backbone on its p-* ports into NAME.pcap, until stop_captures.
capture() {
  local name=$1 dir=$2
  rm -f "$work/$name.ready"
  ip netns exec "${P}bb" "$work/pmipdemo" capture -i p- -dir "$dir" -w "$work/$name.pcap" \
    -ready "$work/$name.ready" 2> "$work/$name.cap.log" &
  BG+=($!)
  CAPS+=($!)
  waitfor 10 "capture $name" test -e "$work/$name.ready"
}
# The captures of a step: what entered the backbone (signalling and data
# leaving a node) and what left it (data entering a node).
start_captures() {
  capture in in
  capture out out
}
stop_captures() {
  sleep 0.2
  for p in "${CAPS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${CAPS[@]}"; do wait "$p" 2>/dev/null || true; done
  CAPS=()
}
# flows FILE PORT: "<count> <port> <outer src> <outer dst> [tunnel]" for the
# UDP stream to PORT (IPv6-in-IPv6 shows two ipv6.src values: outer,inner).
flows() {
  tshark -r "$1" -Y "udp.dstport == $2" -T fields -E separator=' ' \
    -e sll.ifindex -e ipv6.src -e ipv6.dst 2>/dev/null \
    | awk -v ifs="$1.ifaces" 'BEGIN { while ((getline l < ifs) > 0) { split(l, a, " "); nm[a[1]] = a[2] } }
        { split($2, s, ","); split($3, d, ","); t = (length(s) > 1) ? " tunnel" : "";
          n[nm[$1] " " s[1] " " d[1] t]++ } END { for (k in n) print n[k], k }' | sort -k2
}
# path PORT: how the stream to PORT crossed the backbone, from both captures.
path() {
  local port=$1
  echo "   left a node for the backbone (port: packets, outer source -> destination; the"
  echo "   stream's packets and pmipdemo's 5 end markers):"
  flows "$work/in.pcap" "$port" | names | awk '{printf "     %-9s %5d  %s -> %s%s\n", $2, $1, $3, $4, ($5 ? "  (IPv6-in-IPv6)" : "")}'
  echo "   entered a node from the backbone:"
  flows "$work/out.pcap" "$port" | names | awk '{printf "     %-9s %5d  %s -> %s%s\n", $2, $1, $3, $4, ($5 ? "  (IPv6-in-IPv6)" : "")}'
}
# count FILE PORT IFACE [OUTER-DST]: packets of the stream on one port.
count() {
  local idx f
  idx=$(awk -v n="$3" '$2 == n {print $1}' "$1.ifaces")
  f="udp.dstport == $2 && sll.ifindex == $idx"
  [ -n "${4:-}" ] && f="$f && ipv6.dst == $4"
  tshark -r "$1" -Y "$f" 2>/dev/null | wc -l
}
# signalling [T0]: the Mobility Headers that entered the backbone, decoded by
# pmipctl decode into sig.txt; with T0 (UTC seconds of the day), also prints
# them one a line: ms after T0, source, destination, message, key fields.
cat > "$work/sum.jq" <<'EOF_JQ'
def pfx: "\(.prefix)/\(.prefix_length)";
def opt:
  if .name == "Location Query (DMM)" then "of " + (if (.fields.identifier_text // "") != "" then .fields.identifier_text else .fields.address end)
  elif .name == "Home Network Prefix" then "HNP " + (.fields | pfx)
  elif .name == "Routing Location (DMM)" then "[" + (.fields | pfx) + " anchor " + .fields.anchor_mr + ", at " + .fields.current_mr + "]"
  elif .name == "Handoff Indicator" then "HI=\(.fields.value)"
  else empty end;
(.time | capture("T(?<h>[0-9]+):(?<m>[0-9]+):(?<s>[0-9.]+)Z")) as $c
| (($c.h | tonumber) * 3600 + ($c.m | tonumber) * 60 + ($c.s | tonumber)) as $sod
| [ (($sod - $t0) * 1000 | floor | tostring), .src, .dst, (.mh.type_name | gsub(" "; "_")),
    ([ (if .mh.fields.status_name then "status=" + .mh.fields.status_name else empty end),
       (if .mh.fields.code_name then "code=" + .mh.fields.code_name else empty end),
       (.mh.options[]? | opt) ] | join(" ")) ] | join(" ")
EOF_JQ
signalling() {
  local t0=${1:-}
  "$work/pmipctl" decode "$work/in.pcap" 2>/dev/null > "$work/sig.txt" || true
  if [ -n "$t0" ]; then
    "$work/pmipctl" decode --json "$work/in.pcap" 2>/dev/null | jq -r --argjson t0 "$t0" -f "$work/sum.jq" \
      | names | sed -e 's/HI=3/(HI 3: handoff)/; s/HI=1/(HI 1: new attachment: a new prefix, §4.2)/' \
      | awk '{printf "     %+6d ms  %-4s -> %-4s  %s", $1, $2, $3, $4; for (i = 5; i <= NF; i++) printf " %s", $i; printf "\n"}' \
      | sed 's/_/ /g'
  fi
}
sod() { awk -v t="$(date -u +%s.%N)" 'BEGIN{printf "%.6f", t % 86400}'; }
short() { names | sed -E 's/^#[0-9]+ [^ ]+T([0-9:.]{12})[0-9]*Z ipv6 /\1 /; s/ \(type [0-9]+, [0-9]+ octets\)//' | cut -c1-"${1:-200}"; }

# stream FROM TO DST PORT RATE DURATION [MOVE-AT MOVE-CMD...]: a UDP stream
# with pmipdemo; prints the receiver's result into $work/stream-PORT.txt.
stream() {
  local from=$1 to=$2 dst=$3 port=$4 rate=$5 dur=$6; shift 6
  ip netns exec "$P$to" "$work/pmipdemo" recv -listen "[::]:$port" -timeout 20s -json > "$work/stream-$port.json" 2>/dev/null &
  local rx=$!
  BG+=($rx)
  sleep 0.3
  ip netns exec "$P$from" "$work/pmipdemo" send -to "[$dst]:$port" -rate "$rate" -duration "$dur" > /dev/null &
  local tx=$!
  BG+=($tx)
  if [ $# -gt 0 ]; then
    sleep "$1"; shift
    "$@"
  fi
  wait "$tx" || fail "pmipdemo send failed"
  wait "$rx" || fail "pmipdemo recv failed"
}
stat() { jq -r ".$2" "$work/stream-$1.json"; }

# mnaddr MN POOL: MN's preferred (not deprecated, not tentative) global
# address in POOL (a /48 written as 2001:db8:NN:), empty if none.
mnaddr() {
  ns "$1" ip -6 -o addr show dev eth0 scope global \
    | awk -v p="$2" '!/tentative|deprecated/ && index($4, p) == 1 {sub("/.*", "", $4); print $4; exit}'
}
has_mnaddr() { [ -n "$(mnaddr "$1" "$2")" ]; }

say "DMM demo: the draft's Figure 1 with real pmipd (draft-luo-dmm-with-mip-and-pmip-00)"
go build -o "$work/" ./cmd/pmipd ./cmd/pmipdemo ./cmd/pmipctl
note "binaries and logs in $work"

say "1. Figure 1: three local networks, five MRs, the LMs and HAAs, one etcd"
for n in "${NODES[@]}"; do
  ip netns add "$P$n"; ip -n "$P$n" link set lo up
  # No DAD on the links below: a router whose link-local address is still
  # tentative cannot solicit its neighbors for the first second.
  ns "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
ns bb sysctl -qw net.ipv6.conf.all.forwarding=1
for i in 1 2 3; do
  ip -n "${P}bb" link add "br$i" type bridge
  ip -n "${P}bb" addr add "2001:db8:$i::1/64" dev "br$i" nodad
  ip -n "${P}bb" link set "br$i" up
done
# node localnet addresses...
node() {
  local n=$1 l=$2; shift 2
  ip link add "ln$l" netns "$P$n" type veth peer name "p-$n" netns "${P}bb"
  ip -n "${P}bb" link set "p-$n" master "br$l"
  ip -n "${P}bb" link set "p-$n" up
  ip -n "$P$n" link set "ln$l" up
  for a in "$@"; do ip -n "$P$n" addr add "$a/64" dev "ln$l" nodad; done
  ip -n "$P$n" -6 route add default via "2001:db8:$l::1"
}
mr() {
  local n=$1 l=$2 a=$3 pool=$4
  node "$n" "$l" "$a"
  ns "$n" sysctl -qw net.ipv6.conf.all.forwarding=1
  ip -n "${P}bb" -6 route add "$pool" via "$a"
}
mr mr11 1 2001:db8:1::11 2001:db8:11::/48
mr mr12 1 2001:db8:1::12 2001:db8:12::/48
node lmhaa1 1 2001:db8:1::a 2001:db8:1::b
mr mr2 2 2001:db8:2::20 2001:db8:20::/48
node lmhaa2 2 2001:db8:2::a 2001:db8:2::b
mr mr31 3 2001:db8:3::31 2001:db8:31::/48
mr mr32 3 2001:db8:3::32 2001:db8:32::/48
node lm3 3 2001:db8:3::a
node haa3 3 2001:db8:3::b
ip -n "${P}bb" addr add 2001:db8:d::1/128 dev lo
# The mobile nodes: plain hosts doing SLAAC; MN1's link ends at MR12, MN2's at MR31.
mn() {
  local n=$1 at=$2 mac=$3
  if [ "$at" = ap ]; then
    ip link add m1 netns "${P}ap" type veth peer name eth0 netns "$P$n"
    ip -n "${P}ap" link set m1 master br0 up
  else
    ip link add "$n" netns "$P$at" type veth peer name eth0 netns "$P$n"
    ip -n "$P$at" link set "$n" up
  fi
  ip -n "$P$n" link set eth0 address "$mac"
  for kv in accept_ra=1 autoconf=1 accept_dad=0 router_solicitation_delay=0 \
            router_solicitation_interval=1 router_solicitations=-1; do
    ns "$n" sysctl -qw "net.ipv6.conf.eth0.$kv"
  done
}
# MN1 is behind an access point (a bridge in namespace "ap") with one port
# to each of MR12, MR11 and MR2 (their access interface "mn1"); only the
# port to MR12 is up. A handover switches the AP's ports: MN1's own link
# stays up, each MR sees its access link's carrier come and go.
ns ap sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ns ap sysctl -qw net.ipv6.conf.default.disable_ipv6=1
ip -n "${P}ap" link add br0 type bridge stp_state 0 mcast_snooping 0
ip -n "${P}ap" link set br0 up
for m in mr12 mr11 mr2; do
  ip link add "p-$m" netns "${P}ap" type veth peer name mn1 netns "$P$m"
  ip -n "${P}ap" link set "p-$m" master br0
  ip -n "$P$m" link set mn1 up
done
ip -n "${P}ap" link set p-mr12 up
# apswitch FROM TO: the AP's port to FROM down, to TO up (break before make).
apswitch() { printf 'link set p-%s down\nlink set p-%s up\n' "$1" "$2" | ip -n "${P}ap" -batch -; }
mn mn1 ap 02:00:00:00:01:01
mn mn2 mr31 02:00:00:00:02:02
cat <<EOF
   local network 1  2001:db8:1::/64  MR11 ::11  MR12 ::12  LM1 ::a  HAA1 ::b (one pmipd)
   local network 2  2001:db8:2::/64  MR2  ::20             LM2 ::a  HAA2 ::b (one pmipd)
   local network 3  2001:db8:3::/64  MR31 ::31  MR32 ::32  LM3 ::a  HAA3 ::b (two pmipd)
   backbone router: routes each MR's pool to it (MR11 2001:db8:11::/48, MR12 :12::,
                    MR2 :20::, MR31 :31::, MR32 :32::); etcd at [2001:db8:d::1]:2379
   MN1 (02:00:00:00:01:01) behind an access point with ports to MR12 (up), MR11, MR2
   MN2 (02:00:00:00:02:02) on a link to MR31
EOF

ip netns exec "${P}bb" etcd --name dmm --data-dir "$work/etcd" \
  --listen-client-urls 'http://[2001:db8:d::1]:2379' --advertise-client-urls 'http://[2001:db8:d::1]:2379' \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster dmm=http://127.0.0.1:2380 --log-level warn > "$work/etcd.log" 2>&1 &
BG+=($!)
etcd_healthy() { ns bb curl -s -m 1 'http://[2001:db8:d::1]:2379/health' | grep -q true; }
waitfor 20 "etcd" etcd_healthy
note "etcd (Debian's etcd-server) healthy: the shared store of LM1-LM3 (§3.3) and HAA1-HAA3"

mkdir -p "$work/run"
for n in "${DAEMONS[@]}"; do
  sed "s#/run/pmipd-e2e#$work/run#" "configs/dmm-$n.yaml" > "$work/$n.yaml"
  "$work/pmipd" -c "$work/$n.yaml" --dry-run > /dev/null || fail "configs/dmm-$n.yaml does not validate"
  ip netns exec "$P$n" "$work/pmipd" -c "$work/$n.yaml" > "$work/$n.log" 2>&1 &
  PID[$n]=$!
done
for n in "${DAEMONS[@]}"; do
  waitfor 15 "$n to start" ctl "$n" status
done
note "pmipd started with configs/dmm-{lmhaa1,lmhaa2,lm3,haa3,mr11,mr12,mr2,mr31,mr32}.yaml:"
for n in "${DAEMONS[@]}"; do
  printf '     %-7s pid %-7s roles %s\n' "$n" "${PID[$n]}" "$(ctl "$n" status --json | jq -r '.roles // .Roles | join(",")' 2>/dev/null || echo '?')"
done

say "2. §4.1 attachment: MN1 at MR12, MN2 at MR31"
note "Each MR asks the HAA of its local network for a prefix anchored at itself (a PBU" \
     "with an all-zero HNP), records the location at its LM (update_lm_on_attach)," \
     "and advertises the prefix; the MN forms its address by SLAAC."
t0=$(now)
ns mn1 ip link set eth0 up
ns mn2 ip link set eth0 up
waitfor 20 "MN1's address" has_mnaddr mn1 2001:db8:12:
waitfor 20 "MN2's address" has_mnaddr mn2 2001:db8:31:
MN1=$(mnaddr mn1 2001:db8:12:)
MN2=$(mnaddr mn2 2001:db8:31:)
note "after $(ms_since "$t0") ms:" \
     "  MN1 $MN1 (prefix of MR12's pool: its home address is anchored at MR12)" \
     "  MN2 $MN2 (prefix of MR31's pool: anchored at MR31)"
echo "   HAA1 allocations (MN1):"; ctl lmhaa1 allocations --mn mn1@example.net | table
echo "   HAA3 allocations (MN2):"; ctl haa3 allocations --mn mn2@example.net | table

note "" "MN1 moves to MR11 (same local network, same prefix): as the draft's §4.3 assumes," \
     "MN1 is now attached at MR11 while its home address stays anchored at MR12."
sleep 1.1   # the LM orders a node's updates by time
moves0=$(counter mr11 Moves)
apswitch mr12 mr11
mr11_serves() { [ "$(counter mr11 Moves)" -gt "$moves0" ] && [ "$(counter mr11 LMUpdates)" -ge 1 ]; }
waitfor 10 "MR11 to serve MN1" mr11_serves
echo "   LM1 location of MN1 (anchor = MR12, current MR = MR11):"
ctl lmhaa1 locations --mn mn1@example.net | table
echo "   LM3 location of MN2:"
ctl lm3 locations --mn mn2@example.net | table

say "3. Figure 3: MN2 -> MN1, MR31 asks the LM and tunnels straight to MR11"
note "MR31 does not know where MN1's prefix is: it holds the first packets, sends a" \
     "Location Query to LM3, caches the reply (MN1 at MR11) and tunnels to MR11, so the" \
     "packets never cross the anchor MR12 (a 200 packet/s UDP stream for 1 s)."
start_captures
stream mn2 mn1 "$MN1" 6001 200 1s
sleep 0.2
stop_captures
echo "   stream MN2 -> MN1: sent $(stat 6001 sent), received $(stat 6001 received), lost $(stat 6001 lost)"
path 6001
n12=$(count "$work/out.pcap" 6001 p-mr12)
n11=$(count "$work/out.pcap" 6001 p-mr11 2001:db8:1::11)
echo "   => path MN2 -> MR31 => (tunnel) => MR11 -> MN1: $n11 packets tunnelled into MR11, $n12 into MR12 (the anchor)"
[ "$n12" = 0 ] || fail "$n12 packets crossed MR12"
echo "   signalling (pmipctl decode of the backbone capture):"
signalling
short 230 < "$work/sig.txt" | sed 's/^/     /'
grep -q 'Location Query' "$work/sig.txt" || fail "no Location Query"

say "4. Figure 5: handover MR11 -> MR2 under a 1000 packet/s stream MN2 -> MN1"
note "The access point hands MN1 over to MR2 (local network 2) 1.5 s into a 4 s stream." \
     "MR11 holds MN1's packets from the carrier loss. MR2 asks LM2 where MN1 was (and HAA2" \
     "for its prefixes) and sends a Handover Initiate to the previous MR (MR11: context" \
     "transfer) on LM2's answer; MR11 acknowledges, forwards what it held and MN1's packets" \
     "to MR2 for a while (temporary forwarding) and redirects MR31 (Redirect/Redirect Ack);" \
     "MR2 updates LM2."
start_captures
fs0=$(counter mr11 ForwardingStarted)
move() {
  tmove=$(sod)
  local t=$(now)
  apswitch mr11 mr2
  echo "   $(date +%T.%3N) the access point switched MN1 from MR11 to MR2 ($(ms_since "$t") ms for the ip command)"
  sleep 0.2
  ctl mr11 mr departures > "$work/mr11-departures.txt" 2>&1 || true
}
stream mn2 mn1 "$MN1" 6002 1000 4s 1.5 move
sleep 0.3
stop_captures
echo "   messages in order (ms from the move; pmipctl decode of the backbone capture):"
signalling "$tmove"
fwd=$(count "$work/in.pcap" 6002 p-mr11 2001:db8:2::20)
direct31_11=$(count "$work/in.pcap" 6002 p-mr31 2001:db8:1::11)
direct31_2=$(count "$work/in.pcap" 6002 p-mr31 2001:db8:2::20)
echo "   path of the stream (from the captures):"
path 6002
note "=> MR31 -> MR11 (before the move and until the redirect): $direct31_11 packets" \
   "   temporary forwarding MR11 -> MR2:                      $fwd packets" \
   "   MR31 -> MR2 straight, after the redirect:             $direct31_2 packets"
echo "   MR11, 200 ms after the switch (pmipctl mr departures): MN1's temporary context"
sed 's/^/     /' "$work/mr11-departures.txt"
echo "   MR2 now (pmipctl mr nodes): MN1 attached, moved from MR11"
ctl mr2 mr nodes | sed 's/^/     /'
echo "   MR31 now (pmipctl mr locations): MN1's prefix cached at MR2, learnt from MR11's Redirect"
ctl mr31 mr locations | sed 's/^/     /'
fe_done() { [ "$(counter mr11 ForwardingEnded)" -ge "$(counter mr11 ForwardingStarted)" ]; }
waitfor 15 "MR11's temporary forwarding to end" fe_done
note "MR11: forwarding started $(( $(counter mr11 ForwardingStarted) - fs0 )) time(s), ended: the temporary context is removed"
printf '   handover figures (pmipdemo recv): sent %s, received %s, lost %s (target 0), longest gap %.1f ms (target <= 10 ms), longest gap with losses %.1f ms\n' \
  "$(stat 6002 sent)" "$(stat 6002 received)" "$(stat 6002 lost)" \
  "$(awk -v g="$(stat 6002 longest_gap)" 'BEGIN{print g*1000}')" "$(awk -v g="$(stat 6002 loss_gap)" 'BEGIN{print g*1000}')"
[ "$direct31_2" -gt 0 ] || fail "MR31 never tunnelled straight to MR2"

say "5. §4.2: a new prefix at MR2; the old address deprecated, still working"
waitfor 10 "MN1's new address" has_mnaddr mn1 2001:db8:20:
NEW=$(mnaddr mn1 2001:db8:20:)
echo "   MN1's addresses now:"
ns mn1 ip -6 -o addr show dev eth0 scope global | awk '{printf "     %s %s\n", $4, ($0 ~ /deprecated/ ? "deprecated (preferred lifetime 0: old sessions only)" : "preferred")}'
echo "   HAA2 allocations (MN1: both prefixes, each anchored where it was assigned):"
ctl lmhaa2 allocations --mn mn1@example.net | table
src=$(ns mn1 ip -6 route get "$MN2" | grep -o 'src [^ ]*' | cut -d' ' -f2)
echo "   a new session MN1 -> MN2 uses source $src"
[ "$src" = "$NEW" ] || fail "a new session would use $src, not the new address $NEW"
ns mn1 ping -n -c 3 -i 0.2 -W 2 "$MN2" | tail -n 2 | sed 's/^/     /'
stream mn2 mn1 "$MN1" 6003 200 1s
echo "   the old address $MN1 keeps working: sent $(stat 6003 sent), received $(stat 6003 received)"

ok=1
say "DMM demo done"
