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

if [ "${BEN_BENCH_MICRO:-1}" = "1" ]; then
  section "Micro-benchmarks (ordo-one/benchmark)"
  (cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --format text --no-progress 2>&1 | grep -vE '^(Build|Compiling|\[)' )
fi
