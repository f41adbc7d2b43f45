#!/usr/bin/env python3
"""Where a relay's CPU goes (issue 12, item 4): a chain ledger -> node-1 -> node-2 -> node-3 on loopback, one
stripe, a bundle of BEN_PROFILE_MIB (32) MiB in 1 MiB chunks. node-2 is a relay: it receives, verifies, stores and
forwards every chunk. It and the ledger are profiled with `perf record` (cpu-clock sampling, call graphs), or with
`valgrind --tool=callgrind` when BEN_PROFILE_TOOL=callgrind (instruction counts, reproducible on a noisy machine;
valgrind 3.19 cannot read the Swift 6.3 toolchain's binaries, see docs/topology.md). Prints the top entries of
each profile and the CPU per MiB relayed.

Usage: profile_relay.py REPO_ROOT WORK_DIR   (release binaries built with -g in REPO_ROOT/.build/release)
Environment: BEN_PROFILE_MIB (32), BEN_PROFILE_LEDGER (0: 1 profiles the ledger too), BEN_PROFILE_TOP (25).
"""
import json, os, signal, socket, subprocess, sys, time

root, work = sys.argv[1], sys.argv[2]
MIB = int(os.environ.get("BEN_PROFILE_MIB", "32"))
PROFILE_LEDGER = os.environ.get("BEN_PROFILE_LEDGER", "1") == "1"
TOOL = os.environ.get("BEN_PROFILE_TOOL", "perf")
TOP = int(os.environ.get("BEN_PROFILE_TOP", "25"))
BIN = f"{root}/.build/release"
FLEET = "prof"
NODES = ["node-1", "node-2", "node-3"]
RELAY = "node-2"
processes = {}


def cleanup(*_):
    for p in processes.values():
        if p.poll() is None:
            p.terminate()
    for p in processes.values():
        try:
            p.wait(timeout=60)
        except Exception:
            p.kill()


def on_signal(signum, _):
    cleanup()
    sys.exit(128 + signum)


signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def run(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw)


def keygen(name):
    run(f"{BIN}/benctl", "keygen", "--out", f"{work}/{name}.key")
    return open(f"{work}/{name}.key.pub").read().split()[0]


def wait_for(what, cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting until {what}")


def callgrind(name):
    if TOOL != "callgrind":
        return []
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={work}/callgrind.{name}", "--dump-instr=no"]


perfs = {}


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


try:
    os.makedirs(work, exist_ok=True)
    nats_port, ledger_port, *node_ports = free_ports(2 + len(NODES))
    processes["nats"] = subprocess.Popen(
        ["nats-server", "-js", "-sd", f"{work}/nats", "-a", "127.0.0.1", "-p", str(nats_port)],
        stdout=open(f"{work}/nats.log", "w"), stderr=subprocess.STDOUT)
    nats = f"nats://127.0.0.1:{nats_port}"
    ledger_pub, operator_pub = keygen("ledger"), keygen("operator")
    lines = ["format: ben/topology/v1", f"fleet: {FLEET}", "ledger:", f"  address: 127.0.0.1:{ledger_port}", "  region: r",
             "  zone: a", "  max_fan_out: 1", "stripes: 1", "defaults:", "  chunk_size: 1MiB", "  uplink: 10Gbit",
             "  max_fan_out: {total: 1, in_rack: 1, cross_rack: 1, cross_zone: 1, cross_region: 1}",
             "regions:", "  - name: r", "    zones:", "      - name: a", "        racks:", "          - name: r1", "            nodes:"]
    for node, port in zip(NODES, node_ports):
        lines.append(f"              - {{id: {node}, roles: [proxy], address: 127.0.0.1:{port}, key: {keygen(node)}}}")
    open(f"{work}/topology.yaml", "w").write("\n".join(lines) + "\n")
    env = dict(os.environ, BEN_FLEET=FLEET, BEN_NATS=nats, BEN_OPERATOR_KEY=f"{work}/operator.key")
    ledger_cmd = [f"{BIN}/ben-ledger", "--fleet", FLEET, "--nats", nats, "--data", f"{work}/ledger", "--key", f"{work}/ledger.key",
                  "--operator-key", operator_pub, "--seed-listen", f"127.0.0.1:{ledger_port}", "--log-level", "notice"]
    processes["ledger"] = subprocess.Popen((callgrind("ledger") if PROFILE_LEDGER else []) + ledger_cmd,
                                           stdout=open(f"{work}/ledger.log", "w"), stderr=subprocess.STDOUT)
    for node, port in zip(NODES, node_ports):
        cmd = [f"{BIN}/ben-agent", "--node", node, "--fleet", FLEET, "--roles", "proxy", "--key", f"{work}/{node}.key",
               "--listen", f"127.0.0.1:{port}", "--nats", nats, "--ledger-key", ledger_pub, "--state", f"{work}/agents/{node}",
               "--orphan-after", "600"]
        processes[node] = subprocess.Popen((callgrind(node) if node == RELAY else []) + cmd,
                                           stdout=open(f"{work}/agent-{node}.log", "w"), stderr=subprocess.STDOUT)
    wait_for("the ledger answers", lambda: subprocess.run([f"{BIN}/benctl", "versions"], env=env, capture_output=True).returncode == 0, 120)
    wait_for("the agents listen", lambda: all("listening for peer links" in open(f"{work}/agent-{n}.log").read() for n in NODES), 120)
    run(f"{BIN}/benctl", "topology", "apply", f"{work}/topology.yaml", env=env)
    folder = f"{work}/bundle"
    run(f"{BIN}/benctl", "build", f"{root}/examples/intent", "-o", folder, "--chunk-size", str(1 << 20))
    with open(f"{work}/payload.bin", "wb") as f:
        f.write(os.urandom(MIB << 20))
    open(f"{work}/payload.json", "w").write(run(f"{BIN}/benctl", "store", "put", "--json", "--store", folder, f"{work}/payload.bin", env=env).stdout)
    run(sys.executable, f"{root}/Benchmarks/make_bundle.py", folder, f"{work}/payload.json")
    version = json.loads(run(f"{BIN}/benctl", "stage", folder, "--json", env=env).stdout)["version"]
    if TOOL == "perf":
        for name in [RELAY] + (["ledger"] if PROFILE_LEDGER else []):
            perfs[name] = subprocess.Popen(
                ["perf", "record", "-F", "499", "-e", "cpu-clock", "-g", "-o", f"{work}/perf.{name}", "-p", str(processes[name].pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
    before = {name: cpu_seconds(processes[name].pid) for name in [RELAY, "ledger"]}
    started = time.time()
    deploy = subprocess.run([f"{BIN}/benctl", "deploy", str(version), "--wait", "--timeout", "900"], env=env, capture_output=True, text=True)
    elapsed = time.time() - started
    spent = {name: cpu_seconds(processes[name].pid) - before[name] for name in before}
    print(f"deploy of {MIB} MiB through the chain: exit {deploy.returncode} in {elapsed:.1f} s ({TOOL})")
    for name, cpu in spent.items():
        print(f"  {name}: {cpu:.2f} CPU-s, {cpu / (MIB / 1024):.2f} CPU-s per GiB")
    for p in perfs.values():
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
finally:
    cleanup()

for name in [RELAY] + (["ledger"] if PROFILE_LEDGER else []):
    if TOOL == "perf":
        for mode in ("--no-children", "--children"):
            out = subprocess.run(["perf", "report", "-i", f"{work}/perf.{name}", "--stdio", mode, "--sort", "symbol", "-g", "none",
                                  "--percent-limit", "0.5"], capture_output=True, text=True).stdout
            rows = [l for l in out.splitlines() if l.strip() and not l.startswith("#")]
            print(f"\n== {name}: {'self' if mode == '--no-children' else 'inclusive'} CPU, top {TOP}")
            for l in rows[:TOP]:
                print("  " + l[:200])
        continue
    path = f"{work}/callgrind.{name}"
    if not os.path.exists(path):
        print(f"no profile for {name}")
        continue
    for inclusive in ("no", "yes"):
        out = subprocess.run(["callgrind_annotate", f"--inclusive={inclusive}", "--threshold=99", path], capture_output=True, text=True).stdout
        lines = out.splitlines()
        total = next((l for l in lines if "PROGRAM TOTALS" in l), "")
        start = next((i for i, l in enumerate(lines) if "file:function" in l), None)
        print(f"\n== {name}: {'inclusive' if inclusive == 'yes' else 'self'} cost, top {TOP} ({total.strip()})")
        if start is not None:
            for l in lines[start + 2:start + 2 + TOP]:
                print("  " + l[:200])
    ir = next((l for l in subprocess.run(["callgrind_annotate", path], capture_output=True, text=True).stdout.splitlines()
               if "PROGRAM TOTALS" in l), "0").split()[0].replace(",", "")
    print(f"{name}: {int(ir) / MIB / 1e6:.1f} M instructions per MiB relayed" if ir.isdigit() else "")
