#!/usr/bin/env bash
# The simulator's figures (issue 8), each beside its goal: flow engine speed at 100 000 (and, opt-in, 1 000 000)
# nodes, chunk events per second per core, memory per simulated node, the protocol engine at 10 000 nodes with 5 %
# relay failures, SimGrid against the flow engine on a binary-tree broadcast, and, when the Mesh section left
# its results in BEN_MESH_RESULT, the simulator's prediction against each measured mesh.
# Called from the end of Benchmarks/run.sh; runs on its own too. Goals are printed, never asserted.
#   BEN_BENCH_SIM_1M=1   also run the 1 000 000-node flow-engine figure (several minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d /tmp/ben-sim-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

printf '\n\033[1m== %s\033[0m\n' "Simulator (ben-sim, release)"
swift build -c release --product ben-sim 2>&1 | tail -1
SIM=$root/.build/release/ben-sim

# A fleet where every tier's link is LINK and every node uploads at UPLINK: scenario NAME NODES RACKS BUNDLE CHUNK UPLINK LATENCY STRATEGIES [EXTRA]
scenario() {
  cat > "$work/$1.yaml" <<YAML
format: ben/sim-scenario/v1
name: $1
seed: 42
topology:
  generate: {regions: 1, zones: 1, racks: $3, nodes: $2, seed: 7}
bundle: {size: $4, chunk: $5}
links:
  uplink: $6
  ledger_uplink: $6
  in_rack: {bandwidth: 100Gbit, latency: $7}
  cross_rack: {bandwidth: 100Gbit, latency: $7}
  cross_zone: {bandwidth: 100Gbit, latency: $7}
  cross_region: {bandwidth: 100Gbit, latency: $7}
strategies: [$8]
timing: {compile: 0s}
${9:-}
YAML
  echo "$work/$1.yaml"
}

# Runs ben-sim and prints its JSON report with the process's peak RSS added (rss_kib) and its wall time (process_seconds).
run_sim() {
  /usr/bin/python3 - "$SIM" "$work" "$@" <<'PY'
import json, resource, subprocess, sys, time
sim, work, args = sys.argv[1], sys.argv[2], sys.argv[3:]
out = f"{work}/out.json"
t = time.perf_counter()
subprocess.run([sim, "run", *args, "--json", out, "--wall-times"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
d = time.perf_counter() - t
r = json.load(open(out))
r["process_seconds"] = d
r["rss_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps(r))
PY
}

flow_figures() {  # LABEL GOAL_SECONDS JSON
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
label, goal, r = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
b = r["strategies"][0]["baseline"]
n = r["nodes"]
line = lambda k, v, g="": print(f"{k:<58} {v:>14}   {g}")
line(f"flow engine, {label}:", f"{b['wall_seconds']:.2f} s", f"(goal < {goal:.0f} s on one core; whole process with planning {r['process_seconds']:.1f} s)")
line("  chunk events per second (one core):", f"{b['chunk_events_per_second'] / 1e6:.2f} M/s", "(goal >= 2 M/s)")
line("  engine state per simulated node:", f"{b['state_bytes_per_node']:.0f} B", f"(goal <= 1024 B; peak RSS of the process ÷ N: {r['rss_kib'] * 1024 / n:.0f} B)")
line("  simulated completion p50 / last, T ÷ T_opt:", f"{b['p50_seconds']:.2f} / {b['last_seconds']:.2f} s", f"{b['ratio_to_optimal']:.2f}")
PY
}

s=$(scenario flow-100k 100000 400 1GiB 1MiB 10Gbit 50us ben-tree)
flow_figures "100 000 nodes, 1 GiB in 1 MiB chunks" 60 "$(run_sim "$s" --strategies ben-tree)"

if [ "${BEN_BENCH_SIM_1M:-0}" = "1" ]; then
  s=$(scenario flow-1m 1000000 4000 1GiB 1MiB 10Gbit 50us ben-tree)
  flow_figures "1 000 000 nodes, 1 GiB in 1 MiB chunks" 600 "$(run_sim "$s" --strategies ben-tree)"
else
  printf '%-58s %14s   %s\n' "flow engine, 1 000 000 nodes:" "skipped" "(BEN_BENCH_SIM_1M=1 runs it; goal < 10 min)"
fi

# The protocol engine: 10 000 real agent machines, 5 % of the relays killed mid-transfer.
s=$(scenario proto-10k 10000 40 16MiB 1MiB 10Gbit 50us ben-tree "protocol: {chunks: 16, relay_failures: 0.05, kill_window: [1ms, 20ms], deployments: 1, deadline: 30s}")
r=$(run_sim "$s" --strategies ben-tree)
/usr/bin/python3 - "$r" <<'PY'
import json, sys
p = json.loads(sys.argv[1])["protocol"]
v = p["versions"][0]
print(f"{'protocol engine, 10 000 nodes, 5 % relay failures:':<58} {p['wall_seconds']:>12.1f} s   (goal < 300 s)")
print(f"{'  relays killed, activated/required, invariants:':<58} {p['relays_killed']:>14}   {v['activated']}/{v['required']}, {'hold' if p['invariants_hold'] else 'VIOLATED'}; {p['events']} events")
PY

# SimGrid against the flow engine: the same binary-tree broadcast (root = the ledger), 64 MiB in 1 MiB chunks,
# 1 Gbit/s uplinks, 100 µs per hop.
if ! dpkg-query -W -f='${Status}' python3-simgrid 2>/dev/null | grep -q "install ok installed"; then
  echo "installing: python3-simgrid (for the SimGrid comparison)"
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-simgrid >/dev/null 2>&1 || true
fi
if /usr/bin/python3 -c 'import simgrid' 2>/dev/null; then
  for hosts in 255 1023; do
    sg=$(/usr/bin/python3 Sim/simgrid/bintree.py "$hosts" $((64 << 20)) $((1 << 20)) 125000000 0.0001 "$work/platform-$hosts.xml" 2>/dev/null)
    s=$(scenario "bintree-$hosts" $((hosts - 1)) 1 64MiB 1MiB 1Gbit 100us binary-tree)
    ben=$(run_sim "$s" --strategies binary-tree)
    /usr/bin/python3 - "$hosts" "$sg" "$ben" <<'PY'
import json, sys
hosts, sg, ben = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
b = ben["strategies"][0]["baseline"]
diff = (b["last_seconds"] - sg["makespan_seconds"]) / sg["makespan_seconds"] * 100
print(f"{f'binary-tree broadcast, {hosts} hosts, makespan Ben / SimGrid:':<58} {b['last_seconds']:.4f} / {sg['makespan_seconds']:.4f} s   {diff:+.2f} % (goal within 10 %)")
print(f"{'  speed, Ben flow engine / SimGrid (wall):':<58} {b['wall_seconds'] * 1000:.1f} / {sg['wall_seconds'] * 1000:.0f} ms   SimGrid ÷ Ben {sg['wall_seconds'] / max(b['wall_seconds'], 1e-9):.0f}×")
PY
  done
else
  printf '%-58s %14s   %s\n' "SimGrid comparison:" "skipped" "(python3-simgrid is not installed: apt-get install python3-simgrid)"
fi

# Fidelity: the Mesh section's measured shaped fleet against the simulator's prediction for the same fleet: the
# same topology file, the same bundle and chunk sizes, every uplink (the ledger's too) at the measured cap, and
# loopback as every tier (no bandwidth limit, half the measured TCP round trip as latency).
# BEN_MESH_RESULT may name several results (space-separated), each compared on its own.
fidelity_runs=0
for mesh_result in ${BEN_MESH_RESULT:-}; do
  [ -f "$mesh_result" ] || continue
  fidelity_runs=$((fidelity_runs + 1))
  /usr/bin/python3 - "$mesh_result" "$work" <<'PY'
import json, sys
m, work = json.load(open(sys.argv[1])), sys.argv[2]
open(f"{work}/mesh-topology.yaml", "w").write(m["topology_yaml"])
latency_us = max(1, round(m["rtt_seconds"] / 2 * 1e6))
link = f"{{bandwidth: 100Gbit, latency: {latency_us}us}}"
open(f"{work}/fidelity.yaml", "w").write(f"""format: ben/sim-scenario/v1
name: fidelity
seed: 42
topology: {{file: mesh-topology.yaml}}
bundle: {{size: {m['bundle_bytes']}B, chunk: {m['chunk_bytes']}B, stripes: {m['stripes']}}}
links:
  uplink: {m['uplink_bits_per_second']}bit
  ledger_uplink: {m['uplink_bits_per_second']}bit
  in_rack: {link}
  cross_rack: {link}
  cross_zone: {link}
  cross_region: {link}
strategies: [ben-tree]
timing: {{compile: 0s}}
""")
PY
  ben=$(run_sim "$work/fidelity.yaml" --strategies ben-tree)
  /usr/bin/python3 - "$mesh_result" "$ben" <<'PY'
import json, sys
m, r = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
b = r["strategies"][0]["baseline"]
c, tiers = m["striped_completion_seconds"], m["striped_bytes_per_tier"]
S = m["bundle_bytes"]
print(f"fidelity on the shaped mesh ({m['n']} agents, {m['uplink_bits_per_second'] / 1e6:.0f} Mbit/s caps, {S / 2**20:.0f} MiB, k = {m['stripes']}): simulated / measured")
def row(name, p, q, unit="", scale=1, goal=True):
    diff = f"{(p - q) / q * 100:+6.1f} %" if q else "     -  "
    print(f"  {name:<50} {p / scale:10.3f} / {q / scale:<10.3f}{unit:<3} {diff}{'   (goal within 10 %)' if goal else ''}")
row("completion p50", b["p50_seconds"], c["p50"], "s")
row("completion p99", b["p99_seconds"], c["p99"], "s")
row("completion, last node", b["last_seconds"], c["max"], "s")
if b.get("active_at_seconds") is not None:
    row("time to active (the ledger holds every ack)", b["active_at_seconds"], m["striped_time_to_active_seconds"], "s", goal=False)
row("ledger egress ÷ S", b["ledger_egress_bytes"], m["ledger_egress_bytes"], "", S)
row("bytes received by all nodes ÷ S", b["received_bytes"], m["total_received_bytes"], "", S)
for t in ("in_rack", "cross_rack", "cross_zone"):
    row(f"bytes {t.replace('_', ' ')} ÷ S", b["bytes_per_tier"][t], tiers[t], "", S)
if tiers.get("unknown"):
    print(f"  ({tiers['unknown']} measured bytes came from a sender the agent could not name, so no tier)")
print(f"  {'simulated T ÷ T_opt, p99 ÷ p50, duplicated bytes:':<50} {b['ratio_to_optimal']:.3f}, {b['p99_over_p50']:.3f}, {b['duplicated_bytes']}")
PY
done
if [ "$fidelity_runs" -eq 0 ]; then
  printf '%-58s %14s   %s\n' "fidelity against the measured mesh:" "skipped" "(BEN_MESH_RESULT names no file; the Mesh section writes it)"
fi
