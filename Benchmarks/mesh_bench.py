#!/usr/bin/env python3
"""The shaped-fleet benchmark (issue 7): N real agents on loopback, every agent and the ledger capped with the
upload token bucket (--upload-limit), so bandwidth rather than CPU should bound the transfer. One bundle of S bytes
in chunks of c per plan shape (striped, plain tree, star, striped with one relay throttled to a quarter), then a
two-phase rollout whose activation spread (the latest swap minus the earliest) it reports.

Usage: mesh_bench.py REPO_ROOT WORK_DIR
Environment: BEN_MESH_NODES (32), BEN_MESH_MIB (64), BEN_MESH_RATE_MBIT (100), BEN_MESH_STAR (1: run the star too),
BEN_MESH_STRIPED_ONLY (0: 1 runs the striped shape alone, without the two-phase run), BEN_MESH_BUILD (release), BEN_MESH_RESULT (write the measured figures there as JSON,
with the topology, for Benchmarks/sim.sh's fidelity comparison). Prints each figure beside its goal. Every process it
starts is killed by pid on the way out, whatever happens.
"""
import json, math, os, socket, statistics, subprocess, sys, time

root, work = sys.argv[1], sys.argv[2]
N = int(os.environ.get("BEN_MESH_NODES", "32"))
MIB = int(os.environ.get("BEN_MESH_MIB", "64"))
RATE_MBIT = int(os.environ.get("BEN_MESH_RATE_MBIT", "100"))
RUN_STAR = os.environ.get("BEN_MESH_STAR", "1") == "1"
# Striped only: no plain tree, star or throttled relay (the simulator's fidelity run needs only the striped figures).
STRIPED_ONLY = os.environ.get("BEN_MESH_STRIPED_ONLY", "0") == "1"
CHUNK = 1 << 20
B = RATE_MBIT * 1e6 / 8  # bytes per second
# BEN_MESH_BUILD=debug runs the debug binaries (a quick check of the script; the figures are the release build's).
BUILD = os.environ.get("BEN_MESH_BUILD", "release")
BENCTL = f"{root}/.build/{BUILD}/benctl"
AGENT = f"{root}/.build/{BUILD}/ben-agent"
LEDGER = f"{root}/.build/{BUILD}/ben-ledger"
FLEET = "mesh"
RACK = 8

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleetkit import benctl_runner, cleanup, cleanup_on_signals, free_ports, keygen, percentile, below, processes, ts, wait_for  # noqa: E402

cleanup_on_signals()
env = dict(os.environ, BEN_FLEET=FLEET)
benctl = benctl_runner(BENCTL, env)


nodes = [f"node-{i + 1}" for i in range(N)]
ports = free_ports(N + 1)
ledger_port, node_port = ports[0], dict(zip(nodes, ports[1:]))
keys = {}




def start_agent(node, limit):
    log = open(f"{work}/agent-{node}.log", "a")
    processes[node] = subprocess.Popen(
        [AGENT, "--node", node, "--fleet", FLEET, "--roles", "proxy", "--key", f"{work}/{node}.key",
         "--listen", f"127.0.0.1:{node_port[node]}", "--nats", nats_url, "--ledger-key", ledger_pub,
         "--state", f"{work}/agents/{node}", "--heartbeat", "5", "--orphan-after", "20", "--upload-limit", limit],
        stdout=log, stderr=subprocess.STDOUT)


def listening(node, times=1):
    try:
        return open(f"{work}/agent-{node}.log").read().count("listening for peer links") >= times
    except FileNotFoundError:
        return False


def make_bundle(index):
    folder = f"{work}/bundle-{index}"
    subprocess.run([BENCTL, "build", f"{root}/examples/intent", "-o", folder, "--chunk-size", str(CHUNK)], check=True, capture_output=True)
    with open(f"{work}/payload.bin", "wb") as f:
        f.write(os.urandom(MIB << 20))
    put = benctl("store", "put", "--json", "--store", folder, f"{work}/payload.bin")
    open(f"{work}/payload.json", "w").write(put.stdout)
    subprocess.run([sys.executable, f"{root}/Benchmarks/make_bundle.py", folder, f"{work}/payload.json"], check=True, capture_output=True)
    os.remove(f"{work}/payload.bin")
    return json.loads(benctl("stage", folder, "--json").stdout)["version"]


def read_plan(key):
    return json.load(open(f"{work}/ledger/store/objects/{key[:2]}/{key}"))


def depths(plan):
    """Each node's smallest depth over the stripe trees (the ledger's children have depth 1)."""
    best = {}
    for parents in plan["stripes"]:
        memo = {}

        def depth(i):
            if i not in memo:
                memo[i] = 1 if parents[i] < 0 else 1 + depth(parents[i])
            return memo[i]

        for i, node in enumerate(plan["nodes"]):
            best[node["id"]] = min(best.get(node["id"], 1 << 30), depth(i))
    return best




def transfers(version):
    """Per node: bytes received, when the first full-size chunk (c) arrived and when it completed (wall times), from the
    agents' 'transfer complete' lines. The manifest and the intent's small chunks come earlier and are not timed."""
    out = {}
    for node in nodes:
        for line in open(f"{work}/agent-{node}.log"):
            if "transfer complete" in line and f"ben.version=v{version} " in line:
                fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
                senders = {}
                for pair in filter(None, fields.get("bytes_from", "").split(",")):
                    sender, count = pair.rsplit(":", 1)
                    senders[sender] = senders.get(sender, 0) + int(count)
                out[node] = {"bytes": int(fields["bytes"]), "first": ts(fields["first_full_chunk_at"]), "complete": ts(fields["complete_at"]),
                             "from": senders}
    return out


def swap_times(version):
    """Per node: when it swapped `version` in at the ledger's barrier (two-phase), in microseconds of its own wall clock,
    and how late after the barrier by its clock, from the agents' 'swapped at the barrier' lines."""
    out = {}
    for node in nodes:
        for line in open(f"{work}/agent-{node}.log"):
            if "swapped at the barrier" in line and f"ben.version=v{version} " in line:
                fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
                out[node] = {"at_us": int(fields["swapped_at_us"]), "late_ms": int(fields["late_ms"])}
    return out


def tier(sender, receiver):
    """The tier a byte crossed, by the topology this benchmark writes (racks of RACK nodes, alternating between
    zones a and b, one region; the ledger in zone a, in no rack), classified as the simulator classifies links."""
    if sender not in position:
        return "unknown"
    (rs, zs), (rr, zr) = position[sender], position[receiver]
    if rs is not None and rs == rr:
        return "in_rack"
    return "cross_rack" if zs == zr else "cross_zone"


def bytes_per_tier(run):
    out = {"in_rack": 0, "cross_rack": 0, "cross_zone": 0, "cross_region": 0}
    for receiver, t in run["transfers"].items():
        for sender, count in t["from"].items():
            k = tier(sender, receiver)
            out[k] = out.get(k, 0) + count
    return out


def deploy(version, extra):
    answer = json.loads(benctl("deploy", str(version), "--json", "--timeout", "900", *extra).stdout)
    plan = read_plan(answer["plan"])

    def decided():
        s = json.loads(benctl("status", str(version), "--json", check=False).stdout or "{}")
        return s.get("status") in ("active", "incomplete")

    wait_for(f"v{version} is decided", decided, timeout=900, every=0.2)
    status = json.loads(benctl("status", str(version), "--json").stdout)
    got = transfers(version)
    issued = ts(status["issued_at"])
    completion = [got[n]["complete"] - issued for n in got]
    return {
        "status": status, "plan": plan, "transfers": got, "issued": issued,
        "time_to_active": ts(status["changed_at"]) - issued,
        "completion": completion,
    }


try:
    os.makedirs(f"{work}/agents", exist_ok=True)
    nats_server = subprocess.run(["sh", "-c", "command -v nats-server || echo /usr/sbin/nats-server"], capture_output=True, text=True).stdout.strip()
    nats_log = open(f"{work}/nats.log", "w")
    processes["nats"] = subprocess.Popen([nats_server, "-js", "-sd", f"{work}/nats", "-a", "127.0.0.1", "-p", "-1"], stdout=nats_log, stderr=subprocess.STDOUT)
    wait_for("nats-server is ready", lambda: "Server is ready" in open(f"{work}/nats.log").read(), 20)
    nats_log_text = open(f"{work}/nats.log").read()
    nats_url = "nats://" + nats_log_text.split("Listening for client connections on ")[1].split()[0]
    env["BEN_NATS"] = nats_url
    env["BEN_OPERATOR_KEY"] = f"{work}/operator.key"

    ledger_pub = keygen(BENCTL, work, "ledger")
    operator_pub = keygen(BENCTL, work, "operator")
    for node in nodes:
        keys[node] = keygen(BENCTL, work, node)

    # Racks of 8, alternating between two zones; every uplink the same B, chunk size c.
    lines = ["format: ben/topology/v1", f"fleet: {FLEET}", "ledger:", f"  address: 127.0.0.1:{ledger_port}", "  region: bench", "  zone: a",
             "defaults:", "  chunk_size: 1MiB", f"  uplink: {RATE_MBIT}Mbit",
             "regions:", "  - name: bench", "    zones:"]
    racks = [nodes[i:i + RACK] for i in range(0, N, RACK)]
    position = {"ledger": (None, "a")}
    for r, rack in enumerate(racks):
        for node in rack:
            position[node] = (r, "ab"[r % 2])
    for zone, parity in (("a", 0), ("b", 1)):
        mine = [(r, rack) for r, rack in enumerate(racks) if r % 2 == parity]
        if not mine:
            continue
        lines += [f"      - name: {zone}", "        racks:"]
        for r, rack in mine:
            lines += [f"          - name: r{r + 1}", "            nodes:"]
            for node in rack:
                lines.append(f"              - {{id: {node}, roles: [proxy], address: 127.0.0.1:{node_port[node]}, key: {keys[node]}}}")
    topology_yaml = "\n".join(lines) + "\n"
    open(f"{work}/topology.yaml", "w").write(topology_yaml)

    ledger_log = open(f"{work}/ledger.log", "w")
    processes["ledger"] = subprocess.Popen(
        [LEDGER, "--fleet", FLEET, "--nats", nats_url, "--data", f"{work}/ledger", "--key", f"{work}/ledger.key",
         "--operator-key", operator_pub, "--seed-listen", f"127.0.0.1:{ledger_port}", "--upload-limit", f"{RATE_MBIT}Mbit"],
        stdout=ledger_log, stderr=subprocess.STDOUT)
    wait_for("the ledger answers", lambda: benctl("versions", check=False).returncode == 0, 30)
    benctl("topology", "apply", f"{work}/topology.yaml")
    for node in nodes:
        start_agent(node, f"{RATE_MBIT}Mbit")
    for node in nodes:
        wait_for(f"{node} listens", lambda: listening(node), 30)

    shapes = [("striped", []), ("plain tree (k = 1)", ["--stripes", "1"])] + ([("star", ["--star"])] if RUN_STAR else [])
    if STRIPED_ONLY:
        shapes = shapes[:1]
    versions = {}
    for i, (name, _) in enumerate(shapes + ([] if STRIPED_ONLY else [("throttled", None)])):
        versions[name] = make_bundle(i)
    runs = {}
    for name, extra in shapes:
        runs[name] = deploy(versions[name], extra)
        print(f"  {name}: {runs[name]['status']['status']} after {runs[name]['time_to_active']:.2f}s", file=sys.stderr)

    # Loopback round trip: a TCP connect to an agent's peer listener.
    rtts = []
    for _ in range(20):
        t = time.perf_counter()
        socket.create_connection(("127.0.0.1", node_port[nodes[0]])).close()
        rtts.append(time.perf_counter() - t)
    rtt = statistics.median(rtts)

    # One relay throttled to a quarter: the one with the most nodes below it in the plan the ledger will compute.
    size = runs["striped"]["status"]["bundle_size"]
    relay = None
    if not STRIPED_ONLY:
        v = versions["throttled"]
        predicted = json.loads(benctl("topology", "plan", f"{work}/topology.yaml", "--version", str(v), "--size", str(size), "--json").stdout)
        relay = max(nodes, key=lambda n: (below(predicted["plan"], n), n))
        processes[relay].terminate()
        processes[relay].wait(timeout=20)
        start_agent(relay, f"{RATE_MBIT // 4}Mbit")
        wait_for(f"{relay} listens again", lambda: listening(relay, 2), 30)
        runs["throttled"] = deploy(v, [])

    # Two-phase (issue 17): a new version prepared on every agent, then one signed activation; each agent swaps when
    # its own clock reads the barrier. The spread is the latest swap minus the earliest, from each agent's swap time
    # in microseconds (one machine, one clock: no skew in it, so what is left is each agent's timer and scheduling).
    swaps = None
    if not STRIPED_ONLY:
        versions["two-phase"] = make_bundle(len(versions))
        runs["two-phase"] = deploy(versions["two-phase"], ["--two-phase"])
        swaps = swap_times(versions["two-phase"])

    # Figures.
    S = size
    c = CHUNK
    s = runs["striped"]
    st = s["status"]
    t_opt = S / B + math.log2(N) * c / B
    received = sum(t["bytes"] for t in s["transfers"].values())
    comp = s["completion"]
    p50, p99 = statistics.median(comp), percentile(comp, 99)
    th = runs["throttled"]["completion"] if "throttled" in runs else None
    d = depths(s["plan"])
    by_depth = {}
    for node, t in s["transfers"].items():
        by_depth.setdefault(d[node], []).append(t["first"] - s["issued"])

    def row(label, value, goal=""):
        print(f"{label:<58} {value:>14}  {goal}")

    print(f"{N} agents and the ledger on loopback, each upload capped at {RATE_MBIT} Mbit/s; a {S / 2**20:.0f} MiB bundle in "
          f"{c >> 20} MiB chunks; k = {len(s['plan']['stripes'])} stripe trees, ledger fan-out {st['fan_out']}, depth {st['depth']}")
    row("ledger egress ÷ bundle size (striped):", f"{st['ledger_egress'] / S:.3f}", f"(goal: about 1; never above the fan-out, {st['fan_out']})")
    row("bytes received by all agents ÷ (N × S):", f"{received / (N * S):.4f}", "(goal <= 1.01)")
    tiers = bytes_per_tier(s)
    row("bytes by tier ÷ S (striped): in rack / cross rack / zone:", f"{tiers['in_rack'] / S:.2f} / {tiers['cross_rack'] / S:.2f} / {tiers['cross_zone'] / S:.2f}",
        f"(from each agent's per-sender counts{'; ' + str(tiers['unknown']) + ' bytes from unnamed senders' if tiers.get('unknown') else ''})")
    for name, _ in shapes:
        r = runs[name]
        row(f"time to active, {name}:", f"{r['time_to_active']:.2f}s",
            f"({r['status']['status']}; ledger egress {r['status']['ledger_egress'] / S:.2f} S)")
    if th:
        row("time to active, striped, one relay at 1/4 B:", f"{runs['throttled']['time_to_active']:.2f}s", f"({runs['throttled']['status']['status']}; {relay} throttled, {below(runs['throttled']['plan'], relay)} nodes below it)")
    if swaps is not None:
        tp = runs["two-phase"]["status"]
        at = [w["at_us"] for w in swaps.values()]
        spread_ms = (max(at) - min(at)) / 1000 if at else float("nan")
        row(f"activation spread, two-phase, {len(swaps)} of {N} agents:", f"{spread_ms:.1f} ms",
            f"(goal < 50 ms on one machine; latest swap − earliest; latest after the barrier {max(w['late_ms'] for w in swaps.values()) if swaps else '-'} ms; "
            f"ledger's view from the signed acks {(tp.get('rollout') or {}).get('activation_spread_ms', '-')} ms)")
        row("time to active, two-phase (prepare, then the barrier):", f"{runs['two-phase']['time_to_active']:.2f}s", f"({tp['status']})")
    row("completion (last node) ÷ T_opt = S/B + log2(N)·c/B:", f"{max(comp) / t_opt:.3f}", f"(goal <= 1.3; {max(comp):.2f}s vs T_opt {t_opt:.2f}s)")
    row("p99 ÷ p50 of per-node completion:", f"{p99 / p50:.3f}", f"(goal <= 1.3; p50 {p50:.2f}s, p99 {p99:.2f}s)")
    if th:
        row("  again with one relay throttled to a quarter:", f"{percentile(th, 99) / statistics.median(th):.3f}",
            f"(goal <= 1.3; p50 {statistics.median(th):.2f}s, p99 {percentile(th, 99):.2f}s)")
    row("messages that reached the ledger (acks and reports):", f"{st['messages_at_ledger']}", f"(of {N} nodes; fan-out {st['fan_out']})")
    for depth in sorted(by_depth):
        first = sorted(by_depth[depth])
        bound = depth * (c / B + rtt)
        row(f"first {c >> 20} MiB chunk at depth {depth} ÷ d·(c/B + RTT), median / max:", f"{statistics.median(first) / bound:.2f} / {max(first) / bound:.2f}",
            f"(goal <= 1.5; {len(first)} nodes, RTT {rtt * 1e6:.0f} us)")
    print(f"{'':<58} (times from the announcement's issue time; depth: a node's smallest in any stripe tree)")

    result = {
        "n": N, "bundle_bytes": S, "chunk_bytes": c, "uplink_bits_per_second": RATE_MBIT * 1_000_000,
        "stripes": len(s["plan"]["stripes"]), "fan_out": st["fan_out"], "depth": st["depth"],
        "striped_completion_seconds": {"p50": p50, "p99": p99, "max": max(comp)},
        "ledger_egress_bytes": st["ledger_egress"], "total_received_bytes": received,
        "optimal_seconds": t_opt, "messages_at_ledger": st["messages_at_ledger"], "rtt_seconds": rtt,
        "time_to_active_seconds": {name: runs[name]["time_to_active"] for name in runs},
        "throttled_completion_seconds": {"p50": statistics.median(th), "p99": percentile(th, 99), "max": max(th)} if th else None,
        "first_chunk_seconds_by_depth": {str(k): sorted(v) for k, v in by_depth.items()},
        "striped_bytes_per_tier": bytes_per_tier(s),
        "striped_time_to_active_seconds": s["time_to_active"],
        "two_phase_swaps": swaps,
        # The fleet as written, so the simulator can replay the same topology (Benchmarks/sim.sh, fidelity).
        "topology_yaml": topology_yaml,
    }
    if os.environ.get("BEN_MESH_RESULT"):
        with open(os.environ["BEN_MESH_RESULT"], "w") as f:
            json.dump(result, f, indent=2)
finally:
    cleanup()
