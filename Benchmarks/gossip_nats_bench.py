#!/usr/bin/env python3
"""Real processes, NATS cut off for 30 % of nodes (issue 16, item 5): the same fleet deploys a version with every
agent on NATS, then again with 30 % of them pointed at a blackholed NATS address, and the two times to active are
printed side by side. The cut-off agents hear the second announcement by gossip or in their parent's HELLO, and
their acks reach the ledger up the tree or through peers that have NATS. Every agent gets the topology file
(`--topology`), which a node that may start without NATS needs for gossip's roster.

Usage: gossip_nats_bench.py REPO_ROOT WORK_DIR
Environment: BEN_GOSSIP_NODES (32), BEN_GOSSIP_CUT (0.3: the share of nodes without NATS), BEN_GOSSIP_RUNS (5:
deploys per case; the median is printed), BEN_BIN (REPO_ROOT/.build/release: where ben-agent, ben-ledger and benctl
are). Every process it starts is killed by pid on the way out, whatever happens.
"""
import json, os, shutil, statistics, subprocess, sys, time

root, work = sys.argv[1], sys.argv[2]
N = int(os.environ.get("BEN_GOSSIP_NODES", "32"))
CUT = float(os.environ.get("BEN_GOSSIP_CUT", "0.3"))
RUNS = int(os.environ.get("BEN_GOSSIP_RUNS", "5"))
BIN = os.environ.get("BEN_BIN", f"{root}/.build/release")
BENCTL, AGENT, LEDGER = f"{BIN}/benctl", f"{BIN}/ben-agent", f"{BIN}/ben-ledger"
FLEET = "gossipbench"
RACK = 4

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleetkit import benctl_runner, cleanup, cleanup_on_signals, free_ports, keygen, processes, ts, wait_for  # noqa: E402

cleanup_on_signals()
env = dict(os.environ, BEN_FLEET=FLEET)
benctl = benctl_runner(BENCTL, env)


def log_count(node, text):
    try:
        return open(f"{work}/agent-{node}.log").read().count(text)
    except FileNotFoundError:
        return 0


nodes = [f"node-{i + 1}" for i in range(N)]
ports = free_ports(N + 2)
ledger_port, node_port, blackhole = ports[0], dict(zip(nodes, ports[1:N + 1])), ports[N + 1]
# Every third or so node, spread over the racks, is the one cut off.
step = 1 / CUT if CUT > 0 else N + 1
cut = [nodes[int(i * step)] for i in range(int(round(N * CUT)))]
keys = {}




def start_agent(node, nats):
    log = open(f"{work}/agent-{node}.log", "a")
    processes[node] = subprocess.Popen(
        [AGENT, "--node", node, "--fleet", FLEET, "--roles", "proxy", "--key", f"{work}/{node}.key",
         "--listen", f"127.0.0.1:{node_port[node]}", "--nats", nats, "--ledger-key", ledger_pub,
         "--state", f"{work}/agents/{node}", "--heartbeat", "5", "--topology", f"{work}/topology.yaml"],
        stdout=log, stderr=subprocess.STDOUT)


def stage(index):
    folder = f"{work}/intent-{index}"
    shutil.copytree(f"{root}/examples/intent", folder)
    with open(f"{folder}/policies/edge.yaml", "a") as f:
        f.write(f"\n# run {index}\n")
    return json.loads(benctl("stage", folder, "--json").stdout)["version"]


def deploy(version):
    benctl("deploy", str(version), "--timeout", "60")

    def decided():
        s = json.loads(benctl("status", str(version), "--json", check=False).stdout or "{}")
        return s.get("status") in ("active", "incomplete")

    wait_for(f"v{version} is decided", decided, timeout=120, every=0.1)
    status = json.loads(benctl("status", str(version), "--json").stdout)
    return status["status"], ts(status["changed_at"]) - ts(status["issued_at"])


try:
    os.makedirs(f"{work}/agents", exist_ok=True)
    nats_server = subprocess.run(["sh", "-c", "command -v nats-server || echo /usr/sbin/nats-server"], capture_output=True, text=True).stdout.strip()
    nats_log = open(f"{work}/nats.log", "w")
    processes["nats"] = subprocess.Popen([nats_server, "-js", "-sd", f"{work}/nats", "-a", "127.0.0.1", "-p", "-1"], stdout=nats_log, stderr=subprocess.STDOUT)
    wait_for("nats-server is ready", lambda: "Server is ready" in open(f"{work}/nats.log").read(), 20)
    nats_url = "nats://" + open(f"{work}/nats.log").read().split("Listening for client connections on ")[1].split()[0]
    env["BEN_NATS"] = nats_url
    env["BEN_OPERATOR_KEY"] = f"{work}/operator.key"

    ledger_pub = keygen(BENCTL, work, "ledger")
    operator_pub = keygen(BENCTL, work, "operator")
    for node in nodes:
        keys[node] = keygen(BENCTL, work, node)
    lines = ["format: ben/topology/v1", f"fleet: {FLEET}", "ledger:", f"  address: 127.0.0.1:{ledger_port}", "  region: bench", "  zone: a",
             "defaults:", "  chunk_size: 64KiB", "  uplink: 1Gbit", "regions:", "  - name: bench", "    zones:"]
    racks = [nodes[i:i + RACK] for i in range(0, N, RACK)]
    for zone, parity in (("a", 0), ("b", 1)):
        mine = [(r, rack) for r, rack in enumerate(racks) if r % 2 == parity]
        if not mine:
            continue
        lines += [f"      - name: {zone}", "        racks:"]
        for r, rack in mine:
            lines += [f"          - name: r{r + 1}", "            nodes:"]
            for node in rack:
                lines.append(f"              - {{id: {node}, roles: [proxy], address: 127.0.0.1:{node_port[node]}, key: {keys[node]}}}")
    open(f"{work}/topology.yaml", "w").write("\n".join(lines) + "\n")

    ledger_log = open(f"{work}/ledger.log", "w")
    processes["ledger"] = subprocess.Popen(
        [LEDGER, "--fleet", FLEET, "--nats", nats_url, "--data", f"{work}/ledger", "--key", f"{work}/ledger.key",
         "--operator-key", operator_pub, "--seed-listen", f"127.0.0.1:{ledger_port}"],
        stdout=ledger_log, stderr=subprocess.STDOUT)
    wait_for("the ledger answers", lambda: benctl("versions", check=False).returncode == 0, 30)
    benctl("topology", "apply", f"{work}/topology.yaml")
    for node in nodes:
        start_agent(node, nats_url)
    for node in nodes:
        wait_for(f"{node} follows announcements", lambda: log_count(node, "following announcements") >= 1, 60)
        wait_for(f"{node} gossips", lambda: log_count(node, "gossip listening") >= 1, 60)

    index = 0
    with_nats = []
    for _ in range(RUNS):
        index += 1
        with_nats.append(deploy(stage(index)))
    # The same fleet with 30 % of its agents restarted against a NATS address where nothing listens.
    for node in cut:
        processes[node].terminate()
        processes[node].wait(timeout=20)
        start_agent(node, f"nats://127.0.0.1:{blackhole}")
    for node in cut:
        wait_for(f"{node} gossips again", lambda: log_count(node, "gossip listening") >= 2, 60)
    time.sleep(3)  # a few probe rounds, so that membership holds the restarted nodes alive
    # Counted from here: with NATS, gossip sometimes delivers an announcement first too.
    heard_before = sum(log_count(node, "announcement by gossip") for node in cut)
    relayed_before = sum(log_count(node, "ack relayed to the ledger by a peer") for node in cut)
    without = []
    for _ in range(RUNS):
        index += 1
        without.append(deploy(stage(index)))
    by_gossip = sum(log_count(node, "announcement by gossip") for node in cut) - heard_before
    relayed = sum(log_count(node, "ack relayed to the ledger by a peer") for node in cut) - relayed_before

    def cell(runs):
        times = [t for _, t in runs]
        states = sorted({s for s, _ in runs})
        return f"{statistics.median(times):.2f}s", f"(median of {len(times)}: {', '.join(f'{t:.2f}' for t in times)}; {'/'.join(states)})"

    print(f"{N} agents and the ledger on loopback, racks of {RACK} in two zones; a small bundle (examples/intent)")
    value, note = cell(with_nats)
    print(f"{'time to active, every agent on NATS:':<58} {value:>10}  {note}")
    value, note = cell(without)
    print(f"{f'the same, {len(cut)} of {N} agents without NATS ({len(cut) / N:.0%}):':<58} {value:>10}  {note}")
    print(f"{'':<58} {'':>10}  (the cut-off nodes: {by_gossip} of their {len(cut) * RUNS} announcements came by gossip, the rest in a"
          f" parent's HELLO; {relayed} of their acks were also published by a peer, besides going up the tree)")
    if os.environ.get("BEN_GOSSIP_RESULT"):
        with open(os.environ["BEN_GOSSIP_RESULT"], "w") as f:
            json.dump({"n": N, "cut": cut, "with_nats": with_nats, "without": without, "by_gossip": by_gossip, "acks_relayed": relayed}, f, indent=2)
finally:
    cleanup()
