#!/usr/bin/env bash
# Gossip's figures (issue 16), each beside its goal, from the gossip engine (`ben-sim gossip`), which runs the real
# membership and broadcast machines of every node over a simulated datagram network:
#   - time until every live node has heard of a new version, at 10 000 and 100 000 nodes (goal: about log N rounds);
#   - duplicate announcement deliveries per node (goal <= 2);
#   - gossip bytes per node per second at idle (goal < 1 KiB/s);
#   - with 5 % packet loss, live nodes falsely declared dead in 10 simulated minutes (goal 0);
#   - with NATS cut off for 30 % of nodes, time to active against the same fleet with NATS;
#   - the shipped heal scenario (partition, crashes, pauses, forgeries) and its three invariants.
# Called from Benchmarks/run.sh after sim.sh; runs on its own too. Goals are printed, never asserted.
#   BEN_BENCH_GOSSIP_100K=0   skip the 100 000-node run (about a minute and 600 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d /tmp/ben-gossip-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

printf '\n\033[1m== %s\033[0m\n' "Gossip (ben-sim gossip, release)"
swift build -c release --product ben-sim 2>&1 | tail -1
SIM=$root/.build/release/ben-sim

# scenario NAME NODES RACKS_PER_ZONE DURATION MEMBERSHIP ANNOUNCEMENTS [EXTRA YAML]: 2 regions × 3 zones.
scenario() {
  cat > "$work/$1.yaml" <<YAML
format: ben/sim-gossip/v1
name: $1
seed: 42
topology:
  generate: {regions: 2, zones: 3, racks: $3, nodes: $2, seed: 7, variety: false}
duration: $4
membership: $5
announcements: $6
${7:-}
YAML
  echo "$work/$1.yaml"
}

# Runs ben-sim gossip and prints its JSON report with the process's peak RSS (rss_kib) and wall time added.
run_gossip() {
  /usr/bin/python3 - "$SIM" "$work" "$@" <<'PY'
import json, resource, subprocess, sys, time
sim, work, args = sys.argv[1], sys.argv[2], sys.argv[3:]
out = f"{work}/out.json"
t = time.perf_counter()
p = subprocess.run([sim, "gossip", *args, "--json", out, "--wall-times"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
d = time.perf_counter() - t
if p.returncode not in (0, 3):
    sys.exit(f"ben-sim gossip failed: {p.stderr}")
r = json.load(open(out))
r["process_seconds"] = d
r["rss_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps(r))
PY
}

# 1, 2. Dissemination: no NATS at all (every node learns by gossip), no membership (it would only add probes), no
# acks. v1 crosses a fresh overlay (every node's first three view members eager); v2 follows the tree v1 pruned.
spread=Sim/scenarios/gossip/spread.yaml
spread_figures() {
  /usr/bin/python3 - "$1" <<'PY'
import json, math, sys
r = json.loads(sys.argv[1])
n = r["nodes"]
line = lambda k, v, g="": print(f"{k:<62} {v:>16}   {g}")
print(f"-- {n:,} nodes and the ledger, views of {r['view_size']} (4 in rack, 4 cross rack, 3 cross zone, 3 cross region), latency 20 µs / 100 µs / 1 ms / 30 ms")
for a, label in zip(r["announcements"], ("a fresh overlay", "the tree the first one pruned")):
    line(f"  v{a['version']} over {label}: every live node heard it after", f"{a['all_learned_after'] * 1000:.0f} ms",
         f"p50 {a['p50'] * 1000:.0f} ms, p99 {a['p99'] * 1000:.0f} ms; {a['learned']}/{a['live']}")
    line("    gossip rounds (hops): max / mean", f"{a['max_hops']} / {a['mean_hops']:.1f}", f"(goal: about log2 N = {math.log2(n + 1):.1f})")
    line("    duplicate deliveries per node", f"{a['duplicates_per_node']:.2f}", f"(goal <= 2); {a['grafts']} grafts")
line("  engine: wall time, peak RSS per simulated node", f"{r['process_seconds']:.1f} s", f"{r['rss_kib'] * 1024 / n / 1024:.1f} KiB/node ({r['rss_kib'] / 1024:.0f} MiB), {r['events']:,} events")
PY
}
spread_figures "$(run_gossip "$spread")"
if [ "${BEN_BENCH_GOSSIP_100K:-1}" = "1" ]; then
  spread_figures "$(run_gossip "$spread" --nodes 100000)"
else
  printf '%-62s %16s   %s\n' "dissemination at 100 000 nodes:" "skipped" "(BEN_BENCH_GOSSIP_100K=1 runs it)"
fi

# 3. Idle: membership probing and anti-entropy, nothing to announce.
idle=$(run_gossip "$(scenario idle 10000 40 60s true "[]")")
/usr/bin/python3 - "$idle" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"-- idle, {r['nodes']:,} nodes, 60 simulated seconds, membership and anti-entropy running")
print(f"  {'gossip bytes sent per node per second (signatures included):':<60} {r['bytes_per_node_per_second']:>16.0f} B   (goal < 1024 B/s)")
print(f"  {'  membership (ping, ack) / anti-entropy (digests):':<60} {r['membership_bytes_per_node_per_second']:>10.0f} / {r['anti_entropy_bytes_per_node_per_second']:.0f} B; largest datagram {r['largest_datagram']} B (bound 1400)")
PY

# 4. 5 % loss on every datagram for 10 simulated minutes.
loss=$(run_gossip "$(scenario loss 1000 10 600s true "[60s]" "gremlin: {drop: 0.05}")")
/usr/bin/python3 - "$loss" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"-- 5 % of datagrams lost, {r['nodes']:,} nodes, 10 simulated minutes")
print(f"  {'live nodes falsely declared dead:':<60} {r['falsely_declared']:>16}   (goal 0); held dead by anyone from news: {r['falsely_dead']}")
print(f"  {'  false suspicions, all refuted in time / refutations:':<60} {r['false_suspicions']:>16}   {r['refutations']}; {r['bytes_per_node_per_second']:.0f} B per node per second")
PY

# 5. NATS cut off for 30 % of nodes against the same fleet with NATS: they learn announcements by gossip, and their
# signed acks reach the ledger through a peer that has NATS (2 s stands in for transfer and compile).
with_nats=$(run_gossip "$(scenario nats-all 10000 40 30s true "[10s]" "activation: 2s")")
cut_nats=$(run_gossip "$(scenario nats-cut 10000 40 30s true "[10s]" "activation: 2s
nats: {cut: 0.3}")")
/usr/bin/python3 - "$with_nats" "$cut_nats" <<'PY'
import json, sys
a, b = (json.loads(x) for x in sys.argv[1:3])
va, vb = a["announcements"][0], b["announcements"][0]
fmt = lambda x: "never" if x is None else f"{x:.2f} s"
print(f"-- time to active (the ledger holds every node's signed ack), {a['nodes']:,} nodes, 2 s from hearing to ack")
print(f"  {'every node has NATS:':<60} {fmt(va['time_to_active']):>16}   acks p50 {fmt(va['ack_p50'])}, p99 {fmt(va['ack_p99'])}")
print(f"  {'NATS cut off for 30 % (gossip carries announcement and ack):':<60} {fmt(vb['time_to_active']):>16}   acks p50 {fmt(vb['ack_p50'])}, p99 {fmt(vb['ack_p99'])}; {vb['by_gossip']} learned by gossip, {b['acks_relayed']} acks published by peers")
print(f"  {'  without gossip those 30 % hear only their plan parents and cannot ack as orphans: the version stays incomplete':<60}")
PY

# 6. The shipped heal scenario, with its invariants.
heal=$(run_gossip Sim/scenarios/gossip/heal.yaml)
/usr/bin/python3 - "$heal" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
v = r["announcements"][-1]
print(f"-- Sim/scenarios/gossip/heal.yaml: {r['nodes']:,} nodes; a zone without NATS cut off while v{v['version']} is announced, crashes, pauses, 2 % loss, forgeries")
print(f"  {'v' + str(v['version']) + ': live nodes that learned it / time until all had:':<60} {v['learned']}/{v['live']:<10} {v['all_learned_after']:.1f} s after publication (bound: 30 s after the heal)")
print(f"  {'invariants:':<60} {'all hold' if not r['violations'] else str(len(r['violations'])) + ' VIOLATED':>16}   {r['crashed'] - r['undetected']}/{r['crashed']} crashes detected (p50 {r['detection_p50'] or 0:.1f} s); {sum(r['refused'].values())} forged datagrams refused")
for v in r["violations"]:
    print(f"    {v['invariant']}: {v['detail']}")
PY
