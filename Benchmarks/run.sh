#!/usr/bin/env bash
# `make bench`: every benchmark, printed as figures and as ratios against a baseline measured in the same run.
# Goals are printed beside the figures; they are never asserted (speed is measured here, not in unit tests).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${BEN_BENCH_DIR:-$(mktemp -d /tmp/ben-bench.XXXXXX)}
trap 'rm -rf "$work"' EXIT

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ratio() { python3 -c "print(f'{$1/$2:.3f}')"; }
# best wall time in seconds of N runs of a command
best_of() {
  local n=$1; shift
  python3 - "$n" "$@" <<'PY'
import subprocess, sys, time
n = int(sys.argv[1]); cmd = sys.argv[2:]
best = None
for _ in range(n):
    t = time.perf_counter(); subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL); d = time.perf_counter() - t
    best = d if best is None or d < best else best
print(f"{best:.4f}")
PY
}

section "Building (release)"
swift build -c release --product benctl 2>&1 | tail -1
(cd Benchmarks && swift build -c release --product ben-bench 2>&1 | tail -1)
BENCTL=$root/.build/release/benctl
BENBENCH=$root/Benchmarks/.build/release/ben-bench
gcc -O2 -o "$work/sodium_verify" Benchmarks/c/sodium_verify.c $(pkg-config --cflags --libs libsodium)

section "Foundation"
head -c $((1 << 30)) /dev/urandom > "$work/1g.bin"
cat "$work/1g.bin" > /dev/null  # warm the page cache for both contenders
t_ben=$(best_of 3 "$BENCTL" hash "$work/1g.bin")
t_b2=$(best_of 3 b2sum -l 256 "$work/1g.bin")
printf '%-58s %8ss   b2sum -l 256: %8ss   ratio %s  (goal <= 1.2)\n' "benctl hash, 1 GiB:" "$t_ben" "$t_b2" "$(ratio "$t_ben" "$t_b2")"

v_ben=$("$BENBENCH" verify-rate --seconds 3 | python3 -c 'import json,sys;print(json.load(sys.stdin)["verifications_per_second"])')
v_c=$("$work/sodium_verify" 3 | python3 -c 'import json,sys;print(json.load(sys.stdin)["verifications_per_second"])')
printf '%-58s %8s/s  libsodium loop: %8s/s  ratio %s  (goal >= 0.9)\n' "Ed25519 verifications through BenCrypto, one core:" "$v_ben" "$v_c" "$(ratio "$v_ben" "$v_c")"

store_put() { rm -rf "$work/store"; "$BENCTL" store put --store "$work/store" "$work/1g.bin" >/dev/null; }
copy() { rm -f "$work/copy.bin"; cp "$work/1g.bin" "$work/copy.bin"; sync; }
export -f store_put copy; export work BENCTL
t_put=$(best_of 3 bash -c store_put)
t_cp=$(best_of 3 bash -c copy)
rm -rf "$work/store" "$work/copy.bin"
printf '%-58s %8ss   cp + sync: %8ss   ratio %s  (goal <= 2)\n' "benctl store put, 1 GiB (1 MiB chunks, durable):" "$t_put" "$t_cp" "$(ratio "$t_put" "$t_cp")"
rm -f "$work/1g.bin"

section "NATS"
# Request/reply round trip (the benctl -> ledger API path), one request at a time, through BenNATS and through
# libnats directly, with SendAsap on (Ben's default) and off (libnats's default: its flusher thread batches the
# reply). Both talk through the same nats-server, started here on a free loopback port.
gcc -O2 -o "$work/nats_rtt" Benchmarks/c/nats_rtt.c $(pkg-config --cflags --libs libnats)
nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
"$nats_server" -a 127.0.0.1 -p -1 >"$work/nats-server.log" 2>&1 &
nats_pid=$!
trap 'kill "$nats_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 500); do grep -q "Server is ready" "$work/nats-server.log" && break; sleep 0.01; done
nats_url="nats://$(sed -n 's/.*Listening for client connections on //p' "$work/nats-server.log" | head -1)"
requests=${BEN_BENCH_NATS_REQUESTS:-20000}
ben=$("$BENBENCH" nats-rtt --url "$nats_url" --count "$requests" --warmup 2000 --payload-bytes 128)
c_on=$("$work/nats_rtt" "$nats_url" 1 "$requests" 2000 128)
c_off=$("$work/nats_rtt" "$nats_url" 0 "$requests" 2000 128)
kill "$nats_pid" 2>/dev/null || true
python3 - "$ben" "$c_on" "$c_off" <<'PY'
import json, sys
ben, c_on, c_off = (json.loads(a) for a in sys.argv[1:4])
on, off = ben["send_asap_on"], ben["send_asap_off"]
def row(label, b, c):
    print(f"{label:<58} p50 {b['p50_us']:7.1f} us  p99 {b['p99_us']:7.1f} us"
          f"   libnats direct: p50 {c['p50_us']:7.1f}  p99 {c['p99_us']:7.1f}   ratio p50 {b['p50_us'] / c['p50_us']:.2f}")
n = ben["requests"]
row(f"request/reply round trip, 128 B, SendAsap on ({n}):", on, c_on)
row(f"request/reply round trip, 128 B, SendAsap off ({n}):", off, c_off)
print(f"{'BenNATS SendAsap off / on:':<58} p50 {off['p50_us'] / on['p50_us']:7.2f}     p99 {off['p99_us'] / on['p99_us']:7.2f}"
      "      (on is Ben's default)")
PY

section "Intent"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
eval_out=$("$BENBENCH" intent-eval --rules 100 --seconds 2)
printf '%-58s %10s/s\n' "100-rule pack, compiled CEL evaluations (all rules run):" "$(echo "$eval_out" | json cel_evaluations_per_second)"
printf '%-58s %10s/s\n' "  end to end with JSON validation against the schema:" "$(echo "$eval_out" | json json_decisions_per_second)"
printf '%-58s %10s/s  ratio %s  (goal <= 5)\n' "  hand-written Swift closures, same comparisons:" \
  "$(echo "$eval_out" | json native_evaluations_per_second)" "$(echo "$eval_out" | json slowdown)"
swap_out=$("$BENBENCH" intent-swap --rules 100)
printf '%-58s %8sus   steady: %8sus   ratio %s  (goal <= 1.1)\n' "p99 evaluation latency while swapping every 1 ms:" \
  "$(echo "$swap_out" | json swapping_p99_us)" "$(echo "$swap_out" | json steady_p99_us)" "$(echo "$swap_out" | json p99_ratio)"
compile_out=$("$BENBENCH" intent-compile --rules 10000)
printf '%-58s %8ss   agent compile: %8ss\n' "10 000-rule pack: benctl build (YAML, checks, artifact):" \
  "$(echo "$compile_out" | json build_seconds)" "$(echo "$compile_out" | json agent_compile_seconds)"
if [ -d "${CEL_CONFORMANCE_DIR:-../shared/conformance/cel}" ]; then
  swift build --product ben-conformance 2>&1 | tail -1
  .build/debug/ben-conformance --dir "${CEL_CONFORMANCE_DIR:-../shared/conformance/cel}" | tail -1 | sed 's/^/CEL conformance /'
fi

section "Topology"
# A 100 000-node fleet: 2 regions × 3 zones × 40 racks of about 417 nodes, with real derived Ed25519 keys.
t_gen=$(best_of 1 "$BENCTL" topology generate --regions 2 --zones 3 --racks 40 --nodes 100000 --seed 1 -o "$work/fleet.yaml")
"$BENBENCH" topology "$work/fleet.yaml" --size $((64 << 20)) --size $((1 << 30)) > "$work/topology.json" 2> "$work/topology.txt"
python3 - "$work/topology.json" "$t_gen" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); gen = float(sys.argv[2])
def line(label, value, note=""): print(f"{label:<58} {value:>12}  {note}")
line("benctl topology generate, 100 000 nodes:", f"{gen:.2f}s", "(keys derived on every core)")
line("parse the 100 000-node file (Yams, marks kept):", f"{d['parse_seconds']:.3f}s")
line("validate (duplicates, fan-outs, reachability plan):", f"{d['validate_seconds']:.3f}s")
line("plan 100 000 nodes (best of 5):", f"{d['plan_seconds']:.3f}s", f"goal < 0.2 s; k = {d['stripes']}, m = {d['nominal_fan_out']}")
line("price three schemes (cost model, per bundle size):", f"{d['cost_seconds']:.3f}s")
line("peak memory (parse, validate, plan, price):", f"{d['peak_rss_bytes'] / 2**20:.0f} MiB")
line("first-level subtrees, canonical JSON:", f"{d['subtree_bytes_per_node']:.0f} B/node")
for r in d["reports"]:
    s, p, star = r["striped"], r["plain_tree"], r["star"]
    size = r["bundle_size"] / 2**20
    print(f"-- a {size:.0f} MiB bundle to {r['nodes']} nodes: k = {s['stripes']} (T_opt {r['optimal_seconds']*1000:.1f} ms)")
    line("  striped ledger egress ÷ star's:", f"{s['ledger_egress'] / star['ledger_egress']:.2e}", "(goal: about 1 bundle; star: N bundles)")
    line("  striped ledger egress ÷ plain tree's:", f"{s['ledger_egress'] / p['ledger_egress']:.3f}")
    line("  striped predicted time ÷ star's:", f"{s['completion_seconds'] / star['completion_seconds']:.2e}")
    line("  striped predicted time ÷ plain tree's:", f"{s['completion_seconds'] / p['completion_seconds']:.3f}")
    line("  striped predicted time ÷ T_opt:", f"{s['ratio_to_optimal']:.3f}", "(goal <= 1.3)")
    line("  ÷ (T_opt + farthest link latency):", f"{s['ratio_to_bound']:.3f}")
    line("  striped rack ingress (mean / max, × S):", f"{s['rack_ingress_mean']:.3f} / {s['rack_ingress_max']:.0f}", "(goal: about 1)")
PY
cat "$work/topology.txt"

section "Ledger"
cores=$(nproc)
ack=$("$BENBENCH" ack-verify --acks 10000 --rounds 5)
python3 - "$ack" "$v_c" "$cores" <<'PY'
import json, sys
a = json.loads(sys.argv[1]); c = int(sys.argv[2]); cores = int(sys.argv[3])
rate = a["acks_verified_per_second"]
print(f"{'signed acks verified per second, every core:':<58} {rate:>9}/s   {cores} x libsodium one core: {cores * c:>9}/s   ratio {rate / (cores * c):.3f}  (goal >= 0.85)")
print(f"{'ingest one aggregate of 10 000 acks (parse, verify, record):':<58} {a['ingest_seconds']:>9}s   ({a['aggregate_bytes'] / 1e6:.1f} MB)")
PY
swift build -c release --product ben-ledger 2>&1 | tail -1
LEDGER=$root/.build/release/ben-ledger
mkdir -p "$work/ledger-bench"
"$BENCTL" keygen --out "$work/ledger-bench/ledger.key" >/dev/null
"$BENCTL" keygen --out "$work/ledger-bench/operator.key" >/dev/null
nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
"$nats_server" -js -sd "$work/ledger-bench/nats" -a 127.0.0.1 -p -1 >"$work/ledger-bench/nats.log" 2>&1 &
lnats_pid=$!
for _ in $(seq 1 500); do grep -q "Server is ready" "$work/ledger-bench/nats.log" && break; sleep 0.01; done
lnats_url="nats://$(sed -n 's/.*Listening for client connections on //p' "$work/ledger-bench/nats.log" | head -1)"
"$LEDGER" --fleet bench --nats "$lnats_url" --data "$work/ledger-bench/data" --key "$work/ledger-bench/ledger.key" \
  --operator-key "$work/ledger-bench/operator.key.pub" --seed-listen "127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')" --log-level warning >"$work/ledger-bench/ledger.log" 2>&1 &
ledger_pid=$!
trap 'kill "$ledger_pid" "$lnats_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
export BEN_FLEET=bench BEN_NATS="$lnats_url" BEN_OPERATOR_KEY="$work/ledger-bench/operator.key"
for _ in $(seq 1 100); do "$BENCTL" versions >/dev/null 2>&1 && break; sleep 0.1; done
"$BENCTL" build examples/intent -o "$work/ledger-bench/bundle" >/dev/null
head -c $((256 << 20)) /dev/urandom > "$work/ledger-bench/payload.bin"
"$BENCTL" store put --json --store "$work/ledger-bench/bundle" "$work/ledger-bench/payload.bin" > "$work/ledger-bench/payload.json"
python3 Benchmarks/make_bundle.py "$work/ledger-bench/bundle" "$work/ledger-bench/payload.json" >/dev/null
t_stage=$(best_of 1 "$BENCTL" stage "$work/ledger-bench/bundle")
printf '%-58s %8ss   %s MB/s\n' "stage a 256 MiB bundle (upload every chunk, verified):" "$t_stage" "$(python3 -c "print(f'{268.4/$t_stage:.0f}')")"
api=$("$BENBENCH" ledger-api --url "$lnats_url" --fleet bench --count 2000)
python3 - "$api" <<'PY'
import json, sys
a = json.loads(sys.argv[1])
print(f"{'operator API round trip (versions), one at a time:':<58} p50 {a['p50_us']:7.1f} us  p99 {a['p99_us']:7.1f} us")
PY
kill "$ledger_pid" "$lnats_pid" 2>/dev/null || true
unset BEN_FLEET BEN_NATS BEN_OPERATOR_KEY

section "Mesh"
# A shaped fleet (issue 7): 32 real agents and the ledger on loopback, every upload capped at 100 Mbit/s by the
# token bucket, a 64 MiB bundle in 1 MiB chunks, deployed striped, as a plain tree, as a star, and striped with one
# relay at a quarter of the bandwidth. Figures come from `benctl status --json` and the agents' transfer lines.
# BEN_MESH_NODES, BEN_MESH_MIB, BEN_MESH_RATE_MBIT and BEN_MESH_STAR=0 shrink it.
swift build -c release --product ben-agent 2>&1 | tail -1
mkdir -p "$work/mesh"
BEN_MESH_RESULT="$work/mesh-result.json" python3 Benchmarks/mesh_bench.py "$root" "$work/mesh"
rm -rf "$work/mesh"
# At 100 Mbit/s, 33 processes on a 2-core machine are CPU-bound rather than bandwidth-bound, which the simulator
# does not model (it prices links). The simulator's fidelity is therefore also measured against a striped run at
# 25 Mbit/s, which the same machine keeps bandwidth-bound. Benchmarks/sim.sh compares it against both.
printf '\nthe same fleet, striped only, at 25 Mbit/s (for the simulator fidelity figure):\n'
mkdir -p "$work/mesh"
BEN_MESH_RATE_MBIT=25 BEN_MESH_STRIPED_ONLY=1 BEN_MESH_RESULT="$work/mesh-result-25.json" python3 Benchmarks/mesh_bench.py "$root" "$work/mesh"
rm -rf "$work/mesh"
export BEN_MESH_RESULT="$work/mesh-result.json $work/mesh-result-25.json"

section "Gossip with real processes"
# Issue 16, item 5: the same 32-agent fleet deploys with every agent on NATS, then with 30 % of them restarted against
# a blackholed NATS address; the medians of 5 times to active side by side. BEN_GOSSIP_NODES, BEN_GOSSIP_CUT and
# BEN_GOSSIP_RUNS change it. The simulator's figures at 10 000 nodes follow in Benchmarks/gossip.sh.
mkdir -p "$work/gossip"
python3 Benchmarks/gossip_nats_bench.py "$root" "$work/gossip"
rm -rf "$work/gossip"

section "Shaped network"
# Issue 12: Ben against a BitTorrent swarm (aria2c and opentracker) on a real kernel network. Every host in its own
# network namespace on one bridge (10.77.0.0/16, nothing on the real interfaces), every upload shaped with tc tbf
# (burst 64kb, latency 50ms), Ben's --upload-limit off, default TCP buffers. N = 32 with 64 MiB at 25, 50 and
# 100 Mbit/s, one relay at R/4, and N = 100 with 8 MiB at 200 Mbit/s; Ben and the swarm alternate, 3 runs each; the
# medians and ranges side by side. It needs root (namespaces, veths, a bridge, qdiscs) and skips itself otherwise.
# BEN_SHAPED_CONFIGS and BEN_SHAPED_RUNS shrink it (e.g. BEN_SHAPED_CONFIGS=32x64@50 BEN_SHAPED_RUNS=1);
# BEN_BENCH_SHAPED=0 leaves it out. It takes about 40 minutes on a 2-core machine.
if [ "${BEN_BENCH_SHAPED:-1}" != "1" ]; then
  echo "left out (BEN_BENCH_SHAPED=0)"
elif [ "$(id -u)" -ne 0 ]; then
  echo "skipped: it must run as root (network namespaces, veth pairs, a bridge and tc qdiscs)"
elif ! ip netns add "bshaped-probe-$$" 2>/dev/null; then
  echo "skipped: \`ip netns add\` is not permitted here"
else
  ip netns del "bshaped-probe-$$"
  for exe in ben-agent ben-ledger benctl; do swift build -c release --product "$exe" 2>&1 | tail -1; done
  # This machine's floor for CPU per byte: BLAKE2b-256 over 1 GiB in 1 MiB chunks plus one copy in and one out.
  gcc -O2 -o "$work/hash_copy_floor" Benchmarks/c/hash_copy_floor.c $(pkg-config --cflags --libs libsodium)
  "$work/hash_copy_floor" 1024 > "$work/floor.json"
  python3 - "$work/floor.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
print(f"{'floor: BLAKE2b-256 of 1 GiB + one copy in + one copy out:':<58} {f['cpu_seconds_per_gib']:.2f} CPU-s/GiB"
      f"   (hash alone {f['hash_cpu_seconds_per_gib']:.2f}, copies {f['copy_cpu_seconds_per_gib']:.2f})")
PY
  mkdir -p "$work/shaped"
  shaped_result=${BEN_SHAPED_RESULT:-$work/shaped-result.json}
  BEN_SHAPED_RUNS=${BEN_SHAPED_RUNS:-3} BEN_SHAPED_FLOOR="$work/floor.json" BEN_SHAPED_RESULT="$shaped_result" \
    python3 Benchmarks/shaped_bench.py "$root" "$work/shaped"
  rm -rf "$work/shaped"
  # Issue 12, item 5: ben-sim replays each measured fleet (its topology file, R on every uplink) with ben-tree and
  # the swarm, and prints simulated against measured medians beside the goal (within 10 % at 25 and 50 Mbit/s);
  # CPU-bound runs are named, not judged (Benchmarks/shaped_sim.py, docs/sim.md).
  if [ -f "$shaped_result" ]; then
    swift build -c release --product ben-sim 2>&1 | tail -1
    mkdir -p "$work/shaped-sim"
    python3 Benchmarks/shaped_sim.py "$root/.build/release/ben-sim" "$shaped_result" "$work/shaped-sim"
  fi
fi

if [ "${BEN_BENCH_MICRO:-1}" = "1" ]; then
  section "Micro-benchmarks (ordo-one/benchmark)"
  (cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --format text --no-progress 2>&1 | grep -vE '^(Build|Compiling|\[)' )
fi

"$root/Benchmarks/sim.sh"
"$root/Benchmarks/gossip.sh"
