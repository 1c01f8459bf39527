#!/bin/bash
# OvS (userspace/netdev datapath) LACP bond between two netns over direct veth pairs.
# Measures (5) carrier-loss detection and (6) LACP-timeout detection. Self-cleaning.
set -Eeuo pipefail
BASE=/tmp/ovs-research
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
T0=$(date +%s%N)
log() { printf '[%6.2fs] %s\n' "$(( ($(date +%s%N) - T0) / 10000000 ))e-2" "$*"; }
die() { log "FATAL: $*"; exit 1; }

# ---------- single instance (namespace names are fixed) ----------
mkdir -p "$BASE"; exec 9>"$BASE/.lock"
flock -w 5 9 || die "another lacp.sh is running (lock $BASE/.lock)"

# ---------- 1. install (never start the system service) ----------
if ! command -v ovs-vswitchd >/dev/null || ! command -v ovsdb-server >/dev/null; then
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
    fi
    log "installing openvswitch-switch"
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends openvswitch-switch >/dev/null
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
# make sure the system-wide instance is neither enabled nor running
if command -v systemctl >/dev/null; then
    systemctl disable openvswitch-switch >/dev/null 2>&1 || true      # works offline (symlinks)
    [ -d /run/systemd/system ] && systemctl stop openvswitch-switch ovs-vswitchd ovsdb-server >/dev/null 2>&1 || true
fi
for p in /run/openvswitch/ovs-vswitchd.pid /run/openvswitch/ovsdb-server.pid; do
    if [ -s "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null; then
        log "stopping system OvS daemon $(cat "$p") ($p)"
        /usr/share/openvswitch/scripts/ovs-ctl stop >/dev/null 2>&1 || kill "$(cat "$p")" || true
    fi
done

# ---------- helpers ----------
NS=(a b)
# PID 1 here reaps orphans only ~1/s, so a dead daemon lingers as a zombie: treat Z as gone
alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]; }
cleanup() {
    local rc=$?
    set +e
    trap - EXIT ERR INT TERM
    for n in "${NS[@]}"; do
        d=$BASE/$n
        for daemon in ovs-vswitchd ovsdb-server; do
            pf=$d/$daemon.pid
            [ -s "$pf" ] || continue
            pid=$(cat "$pf")
            ts=$(date +%s%N); kill -TERM "$pid" 2>/dev/null
            for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
            alive "$pid" && { echo "  SIGKILL $daemon $pid"; kill -KILL "$pid"; }
            echo "  stopped $daemon/$n pid $pid in $(ms_since "$ts") ms"
        done
    done
    for n in "${NS[@]}"; do ip netns del "ovsr-$n" 2>/dev/null; done
    ip netns list 2>/dev/null | grep -q '^ovsr-' && echo "  WARNING: ovsr- namespaces left: $(ip netns list | grep ovsr-)"
    for n in "${NS[@]}"; do rm -rf "${BASE:?}/$n"; done
    for _ in $(seq 30); do   # wait (<=3 s) for PID 1 to reap the zombies
        left=$(pgrep -a -x ovs-vswitchd; pgrep -a -x ovsdb-server); [ -z "$left" ] && break; sleep 0.1
    done
    if [ -n "$left" ]; then echo "  WARNING: ovs processes still running:"; echo "$left"; else echo "  cleanup ok: no ovs-vswitchd/ovsdb-server processes, no ovsr- netns"; fi
    exit $rc
}
trap cleanup EXIT
trap 'log "error at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT TERM

# stale leftovers from an earlier killed run
for n in "${NS[@]}"; do
    for pf in "$BASE/$n"/*.pid; do [ -s "$pf" ] && kill -KILL "$(cat "$pf")" 2>/dev/null || true; done
    ip netns del "ovsr-$n" 2>/dev/null || true
    rm -rf "${BASE:?}/$n"
done

vsctl()  { local n=$1; shift; timeout 10 ovs-vsctl --timeout=5 --db="unix:$BASE/$n/db.sock" "$@"; }
appctl() { local n=$1; shift; timeout 5 ovs-appctl --timeout=3 -t "$BASE/$n/ovs-vswitchd.ctl" "$@"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# wait_for <timeout_ms> <cmd...>: poll every 50 ms; prints elapsed ms; rc 1 on timeout
wait_for() {
    local lim=$1; shift; local s; s=$(date +%s%N)
    while :; do
        if "$@" >/dev/null 2>&1; then ms_since "$s"; return 0; fi
        [ "$(ms_since "$s")" -ge "$lim" ] && { echo "TIMEOUT(>${lim}ms)"; return 1; }
        sleep 0.05
    done
}
member_state() { appctl "$1" bond/show bond0 | grep -q "^member $2: $3"; }   # n member enabled|disabled
both_attached() { for m in "$@"; do appctl "${m%%:*}" lacp/show bond0 | grep -q "member: ${m#*:}: current attached" || return 1; done; }

# ---------- 2. namespaces + private OvS instances ----------
ip netns add ovsr-a; ip netns add ovsr-b
ip link add a1 netns ovsr-a type veth peer name b1 netns ovsr-b
ip link add a2 netns ovsr-a type veth peer name b2 netns ovsr-b
# a down veth pair used as a black hole for test (6)
ip link add adrop0 netns ovsr-a type veth peer name adrop1 netns ovsr-a
for n in a b; do
    ip -n "ovsr-$n" link set lo up
    # AF_PACKET members stay normal kernel netdevs: stop the ns kernel from answering ARP on them
    # (else ARP for br0's IP is answered with the member's MAC and ping across the bond fails)
    ip netns exec "ovsr-$n" sysctl -qw net.ipv4.conf.all.arp_ignore=1
    for i in 1 2; do
        ip netns exec "ovsr-$n" sysctl -qw "net.ipv6.conf.$n$i.disable_ipv6=1"
        ip -n "ovsr-$n" link set "$n$i" up
    done
done

for n in a b; do
    d=$BASE/$n; mkdir -p "$d"
    export OVS_RUNDIR=$d OVS_DBDIR=$d OVS_LOGDIR=$d OVS_SYSCONFDIR=$d OVS_PKGDATADIR=/usr/share/openvswitch
    ovsdb-tool create "$d/conf.db" "$SCHEMA"
    ip netns exec "ovsr-$n" ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" \
        --unixctl="$d/ovsdb-server.ctl" --pidfile="$d/ovsdb-server.pid" --detach --no-chdir \
        -vconsole:off --log-file="$d/ovsdb-server.log" 9>&-
    vsctl "$n" --no-wait init
    ip netns exec "ovsr-$n" ovs-vswitchd "unix:$d/db.sock" \
        --unixctl="$d/ovs-vswitchd.ctl" --pidfile="$d/ovs-vswitchd.pid" --detach --no-chdir \
        -vconsole:off --log-file="$d/ovs-vswitchd.log" 9>&-
    # ---------- 3. bridge + LACP bond ----------
    vsctl "$n" add-br br0 -- set bridge br0 datapath_type=netdev \
        -- add-bond br0 bond0 "${n}1" "${n}2" lacp=active bond_mode=balance-tcp \
           other_config:lacp-time=fast
done
log "daemons: a=$(cat $BASE/a/ovs-vswitchd.pid) b=$(cat $BASE/b/ovs-vswitchd.pid)"

# ---------- 4. wait for LACP ----------
ms=$(wait_for 30000 both_attached a:a1 a:a2 b:b1 b:b2) || { appctl a lacp/show bond0; appctl b lacp/show bond0; die "LACP did not converge: $ms"; }
log "LACP negotiated on both sides after ${ms} ms (polling started right after both bonds were configured)"
wait_for 10000 member_state b b1 enabled >/dev/null && wait_for 10000 member_state b b2 enabled >/dev/null \
  && wait_for 10000 member_state a a1 enabled >/dev/null && wait_for 10000 member_state a a2 enabled >/dev/null \
  || die "members not enabled"
echo "---- ovsr-b: ovs-appctl lacp/show bond0 ----"; appctl b lacp/show bond0 | grep -E 'status|member:|actor sys|partner sys'
echo "---- ovsr-b: ovs-appctl bond/show bond0 ----"; appctl b bond/show bond0 | grep -E 'bond_mode|lacp_status|^member|may_enable'
echo "---- ovsr-a: bond/show members ----"; appctl a bond/show bond0 | grep -E '^member|lacp_status'

# data-plane sanity: br0 (a tap device in the netdev datapath) gets an IP on each side
ip -n ovsr-a addr add 10.99.0.1/24 dev br0; ip -n ovsr-a link set br0 up
ip -n ovsr-b addr add 10.99.0.2/24 dev br0; ip -n ovsr-b link set br0 up
if ip netns exec ovsr-a ping -q -c3 -i0.2 -W1 10.99.0.2 >/dev/null; then log "ping a->b across bond0: ok"; else log "ping a->b across bond0: FAILED"; fi

# ---------- 5. carrier loss ----------
ip -n ovsr-a link set a1 down
ms=$(wait_for 10000 member_state b b1 disabled) || true
log "(5) a1 down -> ovsr-b disables b1 after: ${ms} ms"
ip -n ovsr-a link set a1 up
ms=$(wait_for 10000 member_state b b1 enabled) || true
log "(5) a1 up   -> ovsr-b re-enables b1 after: ${ms} ms"
ms=$(wait_for 10000 both_attached a:a1 b:b1) || true
log "    (lacp current attached again on both after +${ms} ms)"

# ---------- 6. silent drop (no carrier change) ----------
tc -n ovsr-a qdisc add dev a1 clsact
t_drop=$(date +%s%N)
tc -n ovsr-a filter add dev a1 egress prio 1 u32 match u32 0 0 action mirred egress redirect dev adrop0
ms=$(wait_for 10000 member_state b b1 disabled) || true
log "(6) a1 egress black-holed (carrier up) -> ovsr-b disables b1 after: ${ms} ms"
appctl b lacp/show bond0 | sed -n '/member: b1/,/^$/p' | grep -E 'member:|status|partner state' || true
ip -n ovsr-b link show b1 | grep -o 'state [A-Z]*' | sed 's/^/    b1 carrier /'
wait_for 10000 member_state a a1 disabled >/dev/null || true
log "    ovsr-a (whose TX is the broken direction) disables a1 after: $(ms_since $t_drop) ms (from drop start)"
appctl b lacp/show bond0 | grep 'member: b1' | sed 's/^/    ovsr-b now: /'
tc -n ovsr-a qdisc del dev a1 clsact
ms=$(wait_for 10000 member_state b b1 enabled) || true
log "(6) drop removed -> ovsr-b re-enables b1 after: ${ms} ms"

# ---------- idle CPU (both daemons sampled over the same 5 s) ----------
hz=$(getconf CLK_TCK); declare -A c1
for n in a b; do c1[$n]=$(awk '{print $14+$15}' /proc/$(cat $BASE/$n/ovs-vswitchd.pid)/stat); done
sleep 5
for n in a b; do
    pid=$(cat $BASE/$n/ovs-vswitchd.pid); c2=$(awk '{print $14+$15}' /proc/$pid/stat)
    log "idle CPU ovs-vswitchd ovsr-$n (pid $pid, $(ls /proc/$pid/task | wc -l) threads): $(( (c2-c1[$n])*1000/hz )) ms CPU in 5 s ($(awk -v t=$((c2-c1[$n])) -v h=$hz 'BEGIN{printf "%.1f", t*100/h/5}') %)"
done
grep -hE 'ERR|WARN' $BASE/a/ovs-vswitchd.log $BASE/b/ovs-vswitchd.log | sed 's/^/    log: /' | sort -u -k3 | head -15 || true
log "done"
