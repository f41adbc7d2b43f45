#!/usr/bin/env python3
"""The shaped-network benchmark (issue 12, item 1; issue 15's cost of encryption): Ben, with its links' records
encrypted (the default) and plain (`--link-encryption off`), against a BitTorrent swarm on a network with kernel
queues, TCP congestion control and flows competing for one uplink.

Every host runs in its own network namespace, attached by a veth pair to one Linux bridge in a namespace of its own
(10.77.0.0/16; nothing touches the root namespace's interfaces). The ledger host (10.77.0.1) runs nats-server and
ben-ledger, or the swarm's tracker (opentracker) and seed (aria2c); each agent host runs one ben-agent, or one aria2c
leecher. Every host's upload is shaped with `tc qdisc add dev eth0 root tbf rate R burst 64kb latency 50ms` on the
egress of its veth inside its namespace. Ben's --upload-limit is off and the kernel's TCP buffers are the defaults.
nats-server runs Ben's authorization (`benctl nats config` for the bench's topology, as `make demo` does): the ledger,
each agent and benctl connect with their own credentials (--nats-creds, BEN_NATS_CREDS).

Per configuration it alternates three systems (Ben, Ben with plain records, swarm, Ben, Ben with plain records,
swarm, ...), each run on fresh processes, and reports the median and range of each system's runs side by side,
beside the goals of issue 12, with each goal marked met or missed. Both Ben systems authenticate every link (the
handshake); "plain" passes `--link-encryption off` to the ledger and every agent, so its records are not sealed.

Usage: shaped_bench.py REPO_ROOT WORK_DIR        (as root)
Environment:
  BEN_SHAPED_CONFIGS  comma-separated NxMIB@MBIT, with /4 for one interior relay (Ben's plan) at a quarter of R;
                      default "32x64@25,32x64@50,32x64@100,32x64@25/4,100x8@200"
  BEN_SHAPED_RUNS     runs of each system per configuration (3)
  BEN_SHAPED_SYSTEMS  the systems to alternate, comma-separated, in order: ben (encrypted records, the default),
                      ben-plain (--link-encryption off), swarm; default "ben,ben-plain,swarm"
  BEN_SHAPED_SWARM    0 leaves the swarm out (as if BEN_SHAPED_SYSTEMS lacked it)
  BEN_SHAPED_RESULT   write every figure, per run and summarised, there as JSON (format ben/shaped-bench/v2: "systems",
                      and per configuration "runs", "figures" and "summary", each keyed by system: ben, ben_plain,
                      swarm; "goals", and "goals_met" per Ben system; "topology_yaml" and "optimal_seconds" for
                      ben-sim's replay, Benchmarks/sim.sh)
  BEN_SHAPED_BIN      where ben-agent, ben-ledger and benctl are (REPO_ROOT/.build/release)
  BEN_SHAPED_FLOOR    the machine floor's JSON (Benchmarks/c/hash_copy_floor.c), printed beside Ben's CPU per GiB
  BEN_SHAPED_KEEP     1 keeps every run's logs under WORK_DIR (default: the last run's of each system, and Ben's
                      runs with a stall, hand-off or mid-frame close)
  BEN_SHAPED_QUIET    seconds to wait, before each run, for the machine to be at most 30 % busy (default 0: no wait)
  BEN_SHAPED_AGENT_ARGS  extra arguments for every ben-agent, space-separated (e.g. "--log-level debug" to see why a
                      run stalled)
  BEN_SHAPED_DECLARE_SLOW  1: in /4 configurations the topology file gives the slowed relay its real uplink (R/4),
                      as an operator who knows it would, so the ledger's planner places it; default 0 (the planner
                      does not know, and the relay's hand-offs must cope)
  BEN_SHAPED_STATIC_ARP  1 (default): permanent neighbour entries on every host, so no ARP exchange queues behind
                      (or is dropped by) a saturated tbf; 0 leaves ARP to the kernel

Figures, all from the same run:
  time to all nodes: the last node's completion (Ben: its "transfer complete" line; swarm: aria2c's
    --on-bt-download-complete hook) minus the start (Ben: the announcement's issued_at; swarm: launching the
    first leecher, with the seed already announced). × T_opt with T_opt = S/B + log2(N)·c/B, B = R/8 bytes/s,
    c = 1 MiB (BenTopology's CostModel.optimalTime).
  p99 ÷ p50 of per-node completion (nearest rank).
  ledger (seed) egress ÷ S: the ledger namespace's eth0 tx_bytes over the run, as is: Ethernet/IP/TCP headers and
    the control plane (NATS; the tracker) included; and less 66 B per packet, the TCP payload, which the goal
    (<= 1.05 S) is judged on. Ben's own payload count (status ledger_egress) beside it.
  received ÷ N·S: all agent namespaces' eth0 rx_bytes, as is (headers and control plane included); for Ben also
    the payload bytes of the agents' "transfer complete" lines.
  CPU-seconds per GiB delivered: user + sys (/proc/PID/stat) of all Ben processes (ledger and agents; nats-server
    apart) or all aria2c processes (seed and leechers; opentracker apart) over the run, ÷ (N·S in GiB).
  Ben's agent and ledger logs: stalls ("stalled with"), hand-offs ("handed it the newest"), mid-frame closes
  ("the stream ended inside a frame") and links a receiver dropped as too slow ("inside a frame, below the minimum").

Cleanup: every namespace (and with it every veth and the bridge) carries this run's prefix, and every process is
registered by pid; both are torn down in a finally block, at exit and on SIGINT/SIGTERM/SIGHUP. Namespaces left by
an earlier run whose process is gone are removed at start.
"""
import atexit, hashlib, json, math, os, re, shutil, signal, statistics, subprocess, sys, time

CHUNK = 1 << 20
FLEET = "shaped"
RACK = 8
SUBNET = "10.77"
LEDGER_IP = f"{SUBNET}.0.1"
NATS_PORT, SEED_PORT, AGENT_PORT, TRACKER_PORT, BT_PORT = 4222, 7400, 7401, 6969, 6881
NS_BASE = "bshaped-"  # every namespace this script makes: bshaped-<pid>-<host>
DEFAULT_CONFIGS = "32x64@25,32x64@50,32x64@100,32x64@25/4,100x8@200"
PHRASES = {  # Ben's log texts (BenProtocol PeerReport, PeerFrameCodec, BenAgent); any of a key's texts counts
    # The agent logs a stall with metadata ("stripe stalled; ..." since its metrics, AgentService+Operations.swift);
    # PeerReport's own sentence ("stripe N stalled with M chunks missing") where it is printed as is.
    "stalls": ("stalled with", "stripe stalled; fetching its chunks elsewhere"),
    "handoffs": ("handed it the newest",),
    "midframe": ("the stream ended inside a frame",),
    "slowdrops": ("inside a frame, below the minimum",),  # PeerLinkError.tooSlow (gone from main; kept for old builds)
}
CLK_TCK = os.sysconf("SC_CLK_TCK")
AGENT_ARGS = os.environ.get("BEN_SHAPED_AGENT_ARGS", "").split()
DECLARE_SLOW = os.environ.get("BEN_SHAPED_DECLARE_SLOW") == "1"
HEADER = 14 + 20 + 32  # Ethernet, IPv4, TCP with timestamps: what a veth counts per packet beside the payload


def say(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Teardown: everything this run made is registered here.

class Registry:
    def __init__(self):
        self.procs = []  # dicts: name, popen, kind
        self.namespaces = []  # in creation order
        self.torn = False

    def stop(self, entries, grace=10.0):
        """SIGTERM, then SIGKILL after `grace` seconds, every process in `entries`; reaps them."""
        for e in entries:
            if e["popen"].poll() is None:
                try:
                    e["popen"].send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + grace
        for e in entries:
            try:
                e["popen"].wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                e["popen"].kill()
                try:
                    e["popen"].wait(timeout=10)
                except subprocess.TimeoutExpired:
                    say(f"  could not reap {e['name']} (pid {e['popen'].pid})")
        for e in entries:
            if e in self.procs and e["popen"].poll() is not None:
                self.procs.remove(e)

    def teardown(self):
        if self.torn:
            return
        self.torn = True
        self.stop(list(self.procs), grace=5)
        for ns in reversed(self.namespaces):
            kill_namespace(ns)
        self.namespaces.clear()


def ns_pids(ns):
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()] if out.returncode == 0 else []


def kill_namespace(ns):
    """Kills whatever still runs in `ns` (processes this script started there, and their children), then deletes it,
    which deletes its veths and bridge."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = ns_pids(ns)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if pids and sig == signal.SIGTERM:
            for _ in range(30):
                if not ns_pids(ns):
                    break
                time.sleep(0.1)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def remove_leftovers():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(re.escape(NS_BASE) + r"(\d+)-", name)
        if not m:
            continue
        owner = int(m.group(1))
        if owner != os.getpid() and os.path.exists(f"/proc/{owner}") and "shaped_bench" in open(f"/proc/{owner}/cmdline", "rb").read().decode(errors="replace"):
            continue  # another live run's
        say(f"  removing leftover namespace {name}")
        kill_namespace(name)


registry = Registry()
atexit.register(registry.teardown)


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


for _s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_s, on_signal)


# ---------------------------------------------------------------------------------------------------------------
# Small helpers.

def run(cmd, check=True, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: exit {out.returncode}\n{out.stdout}{out.stderr}")
    return out


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleetkit import below, percentile, ts, wait_for  # noqa: E402


def loadavg():
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


def machine_cpu():
    """(busy, softirq, total) jiffies of the whole machine, from /proc/stat."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    total = sum(f)
    return total - f[3] - f[4], f[6], total


def busy_between(a, b):
    """Fraction of the machine's CPU time (all cores) that was busy, and the fraction in softirq (the kernel's
    networking: veths, the bridge, tbf), between two machine_cpu() samples."""
    total = max(1, b[2] - a[2])
    return (b[0] - a[0]) / total, (b[1] - a[1]) / total


def wait_quiet(limit, most=0.3):
    """Waits up to `limit` seconds until the machine, before a run starts anything, is at most `most` busy over
    3 s (another build or test on a shared machine would otherwise be measured too). Returns the last busy share."""
    deadline = time.time() + limit
    while True:
        a = machine_cpu()
        time.sleep(3)
        busy = busy_between(a, machine_cpu())[0]
        if busy <= most or time.time() >= deadline:
            return busy
        say(f"  the machine is {busy:.0%} busy; waiting for it to quieten (up to {deadline - time.time():.0f} s more)")
        time.sleep(10)


def other_share(a, b, ours_seconds):
    """The share of the machine's CPU time between two machine_cpu() samples that went neither to the processes this
    run started nor to softirq: other work on the machine (a build, the lead's tests) competing with the run."""
    total = max(1, b[2] - a[2])
    return max(0.0, (b[0] - a[0]) - (b[1] - a[1]) - ours_seconds * CLK_TCK) / total


def cpu_ticks(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def net_dev(pid, dev="eth0"):
    """(rx_bytes, rx_packets, tx_bytes, tx_packets) of `dev` in the namespace `pid` runs in."""
    for line in open(f"/proc/{pid}/net/dev"):
        if line.strip().startswith(dev + ":"):
            f = line.split(":", 1)[1].split()
            return int(f[0]), int(f[1]), int(f[8]), int(f[9])
    raise RuntimeError(f"no {dev} in the namespace of pid {pid}")


def parse_config(text):
    m = re.fullmatch(r"\s*(\d+)x(\d+)@(\d+(?:\.\d+)?)(/4)?\s*", text)
    if not m:
        raise SystemExit(f"bad configuration {text!r}: write NxMIB@MBIT, optionally with /4 (one relay at R/4)")
    return {"text": text.strip(), "n": int(m.group(1)), "mib": int(m.group(2)), "mbit": float(m.group(3)), "slow": bool(m.group(4))}


# ---------------------------------------------------------------------------------------------------------------
# The network: one namespace per host, veth pairs to a bridge in a namespace of its own.

class Network:
    def __init__(self, prefix, n):
        self.prefix = prefix
        self.switch = f"{prefix}sw"
        self.hosts = ["ledger"] + [f"node-{i + 1}" for i in range(n)]
        self.ns = {h: f"{prefix}{'l' if h == 'ledger' else 'n' + h.split('-')[1]}" for h in self.hosts}
        self.ip = {"ledger": LEDGER_IP}
        for i in range(n):
            self.ip[f"node-{i + 1}"] = f"{SUBNET}.{1 + i // 250}.{1 + i % 250}"
        self.anchor = {}  # host -> pid of a process that lives as long as the namespace (to read its counters)

    def create(self):
        self._add_ns(self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for k, h in enumerate(self.hosts):
            ns = self.ns[h]
            self._add_ns(ns)
            ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"p{k}", "netns", self.switch)
            ip("-n", self.switch, "link", "set", f"p{k}", "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{self.ip[h]}/16", "dev", "eth0")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", "eth0", "up")
            p = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "infinity"], stdin=subprocess.DEVNULL)
            registry.procs.append({"name": f"anchor {h}", "popen": p, "kind": "anchor"})
            self.anchor[h] = p.pid

    def static_neighbours(self):
        """Every host knows every other host's MAC address (permanent neighbour entries), so that no ARP request or
        reply waits in, or is dropped from, a saturated tbf queue: with 100 leechers starting at once, the ledger
        host's ARP replies were dropped behind the seed's upload and announces failed with 'No route to host'."""
        mac = {h: json.loads(ip("-n", self.ns[h], "-j", "link", "show", "eth0").stdout)[0]["address"] for h in self.hosts}
        for h in self.hosts:
            lines = [f"neigh replace {self.ip[o]} lladdr {mac[o]} dev eth0 nud permanent" for o in self.hosts if o != h]
            run(["ip", "-n", self.ns[h], "-batch", "-"], input="\n".join(lines) + "\n")

    def _add_ns(self, ns):
        ip("netns", "add", ns)
        registry.namespaces.append(ns)

    def shape(self, rates_mbit):
        """tbf on every host's upload: rates_mbit maps host -> Mbit/s."""
        for h in self.hosts:
            run(["tc", "-n", self.ns[h], "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", f"{rates_mbit[h]:g}mbit", "burst", "64kb", "latency", "50ms"])

    def counters(self):
        return {h: net_dev(self.anchor[h]) for h in self.hosts}

    def destroy(self):
        anchors = [e for e in registry.procs if e["kind"] == "anchor"]
        registry.stop(anchors, grace=2)
        for ns in [self.ns[h] for h in self.hosts] + [self.switch]:
            kill_namespace(ns)
            if ns in registry.namespaces:
                registry.namespaces.remove(ns)


def ip(*args):
    return run(["ip", *args])


def start(net, host, name, kind, cmd, log_path, env=None, cwd=None):
    log = open(log_path, "w")
    p = subprocess.Popen(["ip", "netns", "exec", net.ns[host], *cmd], stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    log.close()
    e = {"name": name, "popen": p, "kind": kind, "host": host, "log": log_path}
    registry.procs.append(e)
    return e


def delta(before, after):
    return {h: tuple(a - b for a, b in zip(after[h], before[h])) for h in after}


# ---------------------------------------------------------------------------------------------------------------
# Ben.

class Ben:
    def __init__(self, root, bin_dir, work, net, cfg):
        self.root, self.work, self.net, self.cfg = root, work, net, cfg
        self.benctl_path = f"{bin_dir}/benctl"
        self.agent_path = f"{bin_dir}/ben-agent"
        self.ledger_path = f"{bin_dir}/ben-ledger"
        self.nodes = net.hosts[1:]
        # NATS runs Ben's authorization, as `make demo` does: `benctl nats config` writes nats-server's configuration
        # and one credentials file per identity (prepare), and each process connects with its own.
        self.nats_dir = f"{work}/nats-auth"
        self.env = dict(os.environ, BEN_FLEET=FLEET, BEN_NATS=f"nats://{LEDGER_IP}:{NATS_PORT}", BEN_OPERATOR_KEY=f"{work}/keys/operator.key",
                        BEN_NATS_CREDS=f"{self.nats_dir}/operators/operator.creds")

    def benctl(self, *args, check=True):
        """benctl in the ledger's namespace (it talks to nats-server there)."""
        return run(["ip", "netns", "exec", self.net.ns["ledger"], self.benctl_path, *args], check=check, env=self.env)

    def prepare(self):
        """Keys, topology file and the bundle, once per configuration."""
        os.makedirs(f"{self.work}/keys", exist_ok=True)
        self.keys = {}
        for name in ["ledger", "operator"] + self.nodes:
            run([self.benctl_path, "keygen", "--out", f"{self.work}/keys/{name}.key"])
            self.keys[name] = open(f"{self.work}/keys/{name}.key.pub").read().split()[0]
        # Racks of 8 alternating between zones a and b (as Benchmarks/mesh_bench.py writes them); every uplink R.
        lines = ["format: ben/topology/v1", f"fleet: {FLEET}", "ledger:", f"  address: {LEDGER_IP}:{SEED_PORT}", "  region: bench", "  zone: a",
                 "defaults:", "  chunk_size: 1MiB", f"  uplink: {self.cfg['mbit']:g}Mbit", "regions:", "  - name: bench", "    zones:"]
        racks = [self.nodes[i:i + RACK] for i in range(0, len(self.nodes), RACK)]
        for zone, parity in (("a", 0), ("b", 1)):
            mine = [(r, rack) for r, rack in enumerate(racks) if r % 2 == parity]
            if not mine:
                continue
            lines += [f"      - name: {zone}", "        racks:"]
            for r, rack in mine:
                lines += [f"          - name: r{r + 1}", "            nodes:"]
                for node in rack:
                    lines.append(f"              - {{id: {node}, roles: [proxy], address: {self.net.ip[node]}:{AGENT_PORT}, key: {self.keys[node]}}}")
        self.topology_yaml = "\n".join(lines) + "\n"
        open(f"{self.work}/topology.yaml", "w").write(self.topology_yaml)
        run([self.benctl_path, "nats", "config", "--topology", f"{self.work}/topology.yaml", "--out", self.nats_dir])
        # The bundle: examples/intent plus a random payload of MIB MiB in 1 MiB chunks (the swarm shares the payload).
        self.bundle = f"{self.work}/bundle"
        run([self.benctl_path, "build", f"{self.root}/examples/intent", "-o", self.bundle, "--chunk-size", str(CHUNK)])
        self.payload = f"{self.work}/payload.bin"
        with open(self.payload, "wb") as f:
            for _ in range(self.cfg["mib"]):
                f.write(os.urandom(CHUNK))
        put = run([self.benctl_path, "store", "put", "--json", "--store", self.bundle, self.payload])
        open(f"{self.work}/payload.json", "w").write(put.stdout)
        run([sys.executable, f"{self.root}/Benchmarks/make_bundle.py", self.bundle, f"{self.work}/payload.json"])
        key = open(f"{self.bundle}/manifest.key").read().split()[0]
        manifest = json.load(open(f"{self.bundle}/objects/{key[:2]}/{key}"))
        self.size = sum(a["size"] for a in manifest["artifacts"])

    def declare_uplink(self, node, mbit):
        """Gives `node` its own uplink in the topology file (what an operator who knows a host is slow writes)."""
        line = next(l for l in self.topology_yaml.split("\n") if l.strip().startswith(f"- {{id: {node},"))
        self.topology_yaml = self.topology_yaml.replace(line, line[:-1] + f", uplink: {mbit:g}Mbit}}")
        open(f"{self.work}/topology.yaml", "w").write(self.topology_yaml)

    def slow_relay(self):
        """The node with the most nodes below it in any stripe tree of the plan the ledger will make for v1."""
        out = run([self.benctl_path, "topology", "plan", f"{self.work}/topology.yaml", "--version", "1", "--size", str(self.size), "--json"])
        plan = json.loads(out.stdout)["plan"]
        return max(self.nodes, key=lambda n: (below(plan, n), n)), plan

    def run(self, index, encrypt=True):
        """One deployment on fresh processes. `encrypt` False passes --link-encryption off to the ledger and every
        agent: links still run the handshake (authenticated) but their records are not sealed."""
        d = f"{self.work}/{'ben' if encrypt else 'ben-plain'}-{index}"
        crypt = [] if encrypt else ["--link-encryption", "off"]
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(f"{d}/agents")
        procs = []
        try:
            nats_server = shutil.which("nats-server") or "/usr/sbin/nats-server"
            nats = start(self.net, "ledger", "nats-server", "nats", [nats_server, "-c", f"{self.nats_dir}/nats-server.conf", "-js", "-sd", f"{d}/nats", "-a", LEDGER_IP, "-p", str(NATS_PORT)], f"{d}/nats.log")
            procs.append(nats)
            wait_for("nats-server is ready", lambda: "Server is ready" in open(f"{d}/nats.log").read(), 20)
            ledger = start(self.net, "ledger", "ben-ledger", "ben", [
                self.ledger_path, "--fleet", FLEET, "--nats", self.env["BEN_NATS"], "--nats-creds", f"{self.nats_dir}/ledger.creds", "--data", f"{d}/ledger", "--key", f"{self.work}/keys/ledger.key",
                "--operator-key", self.keys["operator"], "--seed-listen", f"{LEDGER_IP}:{SEED_PORT}", *crypt], f"{d}/ledger.log")
            procs.append(ledger)
            wait_for("the ledger answers", lambda: self.benctl("versions", check=False).returncode == 0, 30, 0.2)
            self.benctl("topology", "apply", f"{self.work}/topology.yaml")
            agents = {}
            for node in self.nodes:
                agents[node] = start(self.net, node, node, "ben", [
                    self.agent_path, "--node", node, "--fleet", FLEET, "--roles", "proxy", "--key", f"{self.work}/keys/{node}.key",
                    "--listen", f"{self.net.ip[node]}:{AGENT_PORT}", "--nats", self.env["BEN_NATS"], "--nats-creds", f"{self.nats_dir}/nodes/{node}.creds", "--ledger-key", self.keys["ledger"],
                    "--state", f"{d}/agents/{node}", "--heartbeat", "5", "--orphan-after", "20", *crypt, *AGENT_ARGS], f"{d}/agent-{node}.log")
                procs.append(agents[node])
            for node in self.nodes:
                wait_for(f"{node} listens", lambda: "listening for peer links" in open(f"{d}/agent-{node}.log").read(), 60, 0.2)
            version = json.loads(self.benctl("stage", self.bundle, "--json").stdout)["version"]
            # Let the fleet's start-up settle (heartbeats, JetStream consumers) before the clock starts; how busy the
            # machine is meanwhile (idle agents, and anything else running on it) is reported as the background.
            m0 = machine_cpu()
            time.sleep(2)
            load, m1 = loadavg(), machine_cpu()
            ben_procs = [ledger] + list(agents.values())
            cpu0 = {e["name"]: cpu_ticks(e["popen"].pid) for e in procs}
            net0 = self.net.counters()
            t0 = time.time()
            out = self.benctl("deploy", str(version), "--wait", "--json", "--timeout", "600", check=False)
            t1, m2 = time.time(), machine_cpu()
            cpu1 = {e["name"]: cpu_ticks(e["popen"].pid) for e in procs}
            net1 = self.net.counters()
            if out.returncode not in (0, 2):
                raise RuntimeError(f"benctl deploy: exit {out.returncode}\n{out.stdout}{out.stderr}")
            status = json.loads(self.benctl("status", str(version), "--json").stdout)
        finally:
            # Agents and the ledger first, so that their logs do not fill with nats-server's going away.
            registry.stop([e for e in procs if e["kind"] != "nats"], grace=10)
            registry.stop(procs, grace=10)
        cpu = {name: (cpu1[name] - cpu0[name]) / CLK_TCK for name in cpu0 if cpu0[name] is not None and cpu1.get(name) is not None}
        dn = delta(net0, net1)
        transfers = self.transfers(d, version)
        issued = ts(status["issued_at"])
        completion = {n: t["complete"] - issued for n, t in transfers.items()}
        logs = [f"{d}/agent-{n}.log" for n in self.nodes] + [f"{d}/ledger.log"]
        counts, lines = count_phrases(logs), notable_lines(logs)
        S, N = status["bundle_size"], len(self.nodes)
        missing = [n for n in self.nodes if n not in completion]
        result = {
            "system": "ben" if encrypt else "ben_plain", "link_encryption": encrypt, "status": status["status"], "bundle_bytes": S, "nodes": N, "load_before": load,
            "machine_busy_before": busy_between(m0, m1)[0], "machine_busy": busy_between(m1, m2)[0], "machine_softirq": busy_between(m1, m2)[1],
            "machine_other": other_share(m1, m2, sum(cpu.values())),
            "deploy_wall_seconds": t1 - t0,
            "time_to_active_seconds": ts(status["changed_at"]) - issued,
            "completion_seconds": completion, "missing": missing,
            "time_to_all_seconds": max(completion.values()) if completion and not missing else None,
            "ledger_egress_wire_bytes": dn["ledger"][2], "ledger_egress_payload_bytes": status.get("ledger_egress"),
            "received_wire_bytes": sum(dn[n][0] for n in self.nodes), "received_payload_bytes": sum(t["bytes"] for t in transfers.values()),
            "cpu_seconds": {"delivery": sum(cpu[e["name"]] for e in ben_procs if e["name"] in cpu), "ledger": cpu.get("ben-ledger"),
                            "agents": sum(cpu[n] for n in self.nodes if n in cpu), "control": cpu.get("nats-server")},
            "counts": counts, "notable_lines": lines, "stripes": status.get("stripes"),
            "fan_out": status.get("fan_out"), "depth": status.get("depth"),
            "ledger_egress_wire_packets": dn["ledger"][3], "received_wire_packets": sum(dn[n][1] for n in self.nodes),
            "plan": find_plan(f"{d}/ledger/store/objects"),
        }
        return result

    def transfers(self, d, version):
        out = {}
        for node in self.nodes:
            for line in open(f"{d}/agent-{node}.log"):
                if "transfer complete" in line and f"ben.version=v{version} " in line:
                    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
                    out[node] = {"bytes": int(fields["bytes"]), "complete": ts(fields["complete_at"])}
        return out




def find_plan(objects):
    """The plan the ledger made and stored (a small JSON object with nodes and stripes) in its chunk store."""
    for dirpath, _, files in os.walk(objects):
        for name in files:
            path = os.path.join(dirpath, name)
            if os.path.getsize(path) > CHUNK // 2:
                continue
            try:
                with open(path, "rb") as f:
                    if f.read(1) != b"{":
                        continue
                doc = json.load(open(path))
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(doc, dict) and "stripes" in doc and "nodes" in doc:
                return doc
    return None


def count_phrases(paths):
    counts = {k: 0 for k in PHRASES}
    for path in paths:
        try:
            text = open(path, errors="replace").read()
        except FileNotFoundError:
            continue
        for k, phrases in PHRASES.items():
            counts[k] += sum(text.count(phrase) for phrase in phrases)
    return counts


def notable_lines(paths, limit=12):
    """Warning, notice and error lines of Ben's logs, with numbers and names blurred, counted: what accompanies the
    cuts and stalls."""
    seen = {}
    for path in paths:
        try:
            for line in open(path, errors="replace"):
                if not re.search(r"\b(warning|notice|error|critical)\b", line):
                    continue
                text = re.sub(r"^\S+\s+", "", line.strip())  # the timestamp
                text = re.sub(r"node-\d+", "node-#", text)
                text = re.sub(r"\b[0-9a-f]{16,}\b", "<key>", text)
                text = re.sub(r"\d+(\.\d+)?", "#", text)
                seen[text] = seen.get(text, 0) + 1
        except FileNotFoundError:
            continue
    return sorted(seen.items(), key=lambda kv: -kv[1])[:limit]


# ---------------------------------------------------------------------------------------------------------------
# The swarm: opentracker and an aria2c seed on the ledger host, one aria2c leecher per agent host.

ARIA2_COMMON = [
    "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
    "--disable-ipv6=true", "--file-allocation=none", "--summary-interval=0", "--show-console-readout=false", "--console-log-level=warn",
    "--log-level=notice", "--check-certificate=false", "--listen-port=6881", "--follow-torrent=false",
    "--seed-ratio=0.0",  # keep seeding (every leecher serves the others until the whole fleet has the file; then all stop)
    "--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=5", "--auto-save-interval=0", "--allow-overwrite=true",
]


class Swarm:
    def __init__(self, work, net, payload, size):
        self.work, self.net, self.payload, self.size = work, net, payload, size
        self.nodes = net.hosts[1:]

    def prepare(self):
        self.torrent = f"{self.work}/payload.torrent"
        if os.path.exists(self.torrent):
            os.remove(self.torrent)
        # 1 MiB pieces (2^20), like Ben's chunks; private, so no DHT or PEX whatever a client defaults to.
        run(["mktorrent", "-p", "-l", "20", "-a", f"http://{LEDGER_IP}:{TRACKER_PORT}/announce", "-o", self.torrent, self.payload])
        h = hashlib.blake2b(digest_size=32)
        with open(self.payload, "rb") as f:
            for block in iter(lambda: f.read(CHUNK), b""):
                h.update(block)
        self.digest = h.hexdigest()
        self.hook = f"{self.work}/aria2-done.sh"
        with open(self.hook, "w") as f:
            # aria2c runs it with GID, the number of files and the first file's path, when the download is complete
            # (before seeding).
            f.write('#!/bin/sh\ndate +%s.%N > "$3.done.tmp" && mv "$3.done.tmp" "$3.done"\n')
        os.chmod(self.hook, 0o755)

    def run(self, index):
        d = f"{self.work}/swarm-{index}"
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(f"{d}/tracker")
        os.makedirs(f"{d}/seed")
        name = os.path.basename(self.payload)
        os.link(self.payload, f"{d}/seed/{name}") if os.stat(self.payload).st_dev == os.stat(d).st_dev else shutil.copy(self.payload, f"{d}/seed/{name}")
        procs, leechers = [], {}
        try:
            # Debian's opentracker serves only the torrents its whitelist names (a path inside the directory it chroots to).
            open(f"{d}/tracker/whitelist", "w").write(torrent_info_hash(self.torrent) + "\n")
            tracker = start(self.net, "ledger", "opentracker", "control", ["opentracker", "-i", LEDGER_IP, "-p", str(TRACKER_PORT), "-P", str(TRACKER_PORT),
                                                                           "-d", f"{d}/tracker", "-w", "/whitelist"],
                            f"{d}/tracker.log", cwd=f"{d}/tracker")
            procs.append(tracker)
            time.sleep(0.5)
            seed = start(self.net, "ledger", "aria2c seed", "swarm", ["aria2c", *ARIA2_COMMON, "--bt-seed-unverified=true", f"--dir={d}/seed",
                                                                      f"--log={d}/seed-aria2.log", self.torrent], f"{d}/seed.log")
            procs.append(seed)
            # The seed is ready when the tracker lists it: a scrape from inside the ledger's namespace says so.
            wait_for("the seed is announced", lambda: self.scrape() >= 1, 30, 0.3)
            for n in self.nodes:
                os.makedirs(f"{d}/{n}")
            m0 = machine_cpu()
            time.sleep(2)
            load, m1 = loadavg(), machine_cpu()
            cpu0 = {e["name"]: cpu_ticks(e["popen"].pid) for e in procs}
            net0 = self.net.counters()
            t0 = time.time()
            for n in self.nodes:
                leechers[n] = start(self.net, n, f"aria2c {n}", "swarm", ["aria2c", *ARIA2_COMMON, f"--dir={d}/{n}", f"--on-bt-download-complete={self.hook}",
                                                                         f"--log={d}/{n}/aria2.log", self.torrent], f"{d}/{n}.log")
                procs.append(leechers[n])
            launched = time.time() - t0
            done = {}
            deadline = time.time() + 900

            while len(done) < len(self.nodes):
                if time.time() > deadline:
                    break
                for n in self.nodes:
                    if n not in done and os.path.exists(f"{d}/{n}/{name}.done"):
                        done[n] = float(open(f"{d}/{n}/{name}.done").read()) - t0
                for n, e in leechers.items():
                    if n not in done and e["popen"].poll() is not None:
                        raise RuntimeError(f"aria2c on {n} exited with {e['popen'].returncode}; see {d}/{n}.log")
                time.sleep(0.05)
            t1, m2 = time.time(), machine_cpu()
            cpu1 = {e["name"]: cpu_ticks(e["popen"].pid) for e in procs}
            net1 = self.net.counters()
        finally:
            registry.stop(procs, grace=10)
        cpu = {k: ((cpu1.get(k) or 0) - (cpu0.get(k) or 0)) / CLK_TCK for k in cpu1 if cpu1[k] is not None}
        dn = delta(net0, net1)
        bad = [n for n in done if not self.verify(f"{d}/{n}/{name}")]
        missing = [n for n in self.nodes if n not in done]
        return {
            "system": "swarm", "status": "complete" if not missing and not bad else "incomplete", "bundle_bytes": self.size,
            "nodes": len(self.nodes), "load_before": load, "launch_seconds": launched, "wall_seconds": t1 - t0,
            "machine_busy_before": busy_between(m0, m1)[0], "machine_busy": busy_between(m1, m2)[0], "machine_softirq": busy_between(m1, m2)[1],
            "machine_other": other_share(m1, m2, sum(cpu.values())),
            "completion_seconds": done, "missing": missing, "corrupt": bad,
            "time_to_all_seconds": max(done.values()) if done and not missing else None,
            "ledger_egress_wire_bytes": dn["ledger"][2], "received_wire_bytes": sum(dn[n][0] for n in self.nodes),
            "ledger_egress_wire_packets": dn["ledger"][3], "received_wire_packets": sum(dn[n][1] for n in self.nodes),
            "cpu_seconds": {"delivery": sum(v for k, v in cpu.items() if k.startswith("aria2c")), "seed": cpu.get("aria2c seed"),
                            "control": cpu.get("opentracker")},
        }

    def scrape(self):
        """How many complete peers the tracker knows for the torrent."""
        info_hash = torrent_info_hash(self.torrent)
        code = ("import urllib.request,urllib.parse,sys;"
                f"print(urllib.request.urlopen('http://{LEDGER_IP}:{TRACKER_PORT}/scrape?info_hash='+urllib.parse.quote(bytes.fromhex('{info_hash}')),timeout=2).read().hex())")
        out = run(["ip", "netns", "exec", self.net.ns["ledger"], sys.executable, "-c", code], check=False)
        if out.returncode != 0:
            return 0
        body = bytes.fromhex(out.stdout.strip())
        m = re.search(rb"8:completei(\d+)e", body)
        return int(m.group(1)) if m else 0

    def verify(self, path):
        try:
            if os.path.getsize(path) != self.size:
                return False
        except FileNotFoundError:
            return False
        h = hashlib.blake2b(digest_size=32)
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(CHUNK), b""):
                h.update(block)
        return h.hexdigest() == self.digest


def torrent_info_hash(path):
    """SHA-1 of the bencoded info dictionary."""
    data = open(path, "rb").read()

    def skip(i):
        c = data[i:i + 1]
        if c == b"i":
            return data.index(b"e", i) + 1
        if c in (b"l", b"d"):
            i += 1
            while data[i:i + 1] != b"e":
                i = skip(i)
            return i + 1
        colon = data.index(b":", i)
        return colon + 1 + int(data[i:colon])

    i = 1
    while data[i:i + 1] != b"e":
        key_end = skip(i)
        key = data[data.index(b":", i) + 1:key_end]
        value_end = skip(key_end)
        if key == b"info":
            return hashlib.sha1(data[key_end:value_end]).hexdigest()
        i = value_end
    raise RuntimeError("no info dictionary in the torrent")


# ---------------------------------------------------------------------------------------------------------------
# Figures.

SYSTEMS = {  # key in the results -> (how BEN_SHAPED_SYSTEMS names it, the report's column)
    "ben": ("ben", "Ben (encrypted)"),
    "ben_plain": ("ben-plain", "Ben (plain records)"),
    "swarm": ("swarm", "swarm (aria2c)"),
}
BEN_SYSTEMS = ("ben", "ben_plain")


def figures(r, t_opt):
    """The per-run ratios every system is reported by."""
    n, S = r["nodes"], r["bundle_bytes"]
    comp = list(r["completion_seconds"].values())
    f = {
        "time_to_all": r["time_to_all_seconds"],
        "x_topt": r["time_to_all_seconds"] / t_opt(S) if r["time_to_all_seconds"] else None,
        "p99_p50": percentile(comp, 99) / statistics.median(comp) if comp else None,
        "egress": r["ledger_egress_wire_bytes"] / S,
        "received": r["received_wire_bytes"] / (n * S),
        # The same less one Ethernet + IPv4 + TCP-with-timestamps header (66 B) per packet the veth counted: an estimate
        # of the TCP payload (control plane still included).
        "egress_tcp": (r["ledger_egress_wire_bytes"] - HEADER * r["ledger_egress_wire_packets"]) / S,
        "received_tcp": (r["received_wire_bytes"] - HEADER * r["received_wire_packets"]) / (n * S),
        "cpu_per_gib": r["cpu_seconds"]["delivery"] / (n * S / 2**30),
        "control_cpu_per_gib": (r["cpu_seconds"]["control"] or 0) / (n * S / 2**30),
        # CPU-bound or not: the delivering processes' CPU-seconds spread over every core, ÷ the time to all nodes,
        # and how busy the whole machine was (kernel networking and anything else included).
        "cpu_bound_share": r["cpu_seconds"]["delivery"] / os.cpu_count() / r["time_to_all_seconds"] if r["time_to_all_seconds"] else None,
        "machine_busy": r.get("machine_busy"), "machine_softirq": r.get("machine_softirq"), "machine_busy_before": r.get("machine_busy_before"),
        "machine_other": r.get("machine_other"), "load_before": r["load_before"][0],
    }
    if r["system"] in BEN_SYSTEMS:
        f["egress_payload"] = (r["ledger_egress_payload_bytes"] or 0) / S
        f["received_payload"] = r["received_payload_bytes"] / (n * S)
        f["time_to_active"] = r["time_to_active_seconds"]
        for k in PHRASES:
            f[k] = r["counts"][k]
    return f


def summary(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "runs": len(v)}


def fmt(s, digits=2, unit=""):
    if s is None:
        return "-"
    if s["min"] == s["max"] or s["runs"] == 1:
        return f"{s['median']:.{digits}f}{unit}"
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def goals(cfg):
    """Issue 12 items 2-4, as they apply to this configuration (its goals are for Ben; the swarm is the yardstick)."""
    g = {"egress_tcp": "<= 1.05 S", "p99_p50": "<= 1.1", "cpu_per_gib": "<= 6"}
    if cfg["slow"]:
        g["x_topt"] = "<= 1.4 (one relay at R/4)"
    else:
        g["events"] = "0 in every run"  # a healthy fleet; with a relay at R/4, hand-offs are the remedy
    if not cfg["slow"] and cfg["mbit"] in (25, 50):
        g["x_topt"] = "<= 1.2"
    elif not cfg["slow"] and cfg["mbit"] == 100:
        g["time_to_all"] = "faster than the swarm"
    if cfg["n"] == 100 and cfg["mib"] == 8:
        g["time_to_all"] = "<= 2 s"
    return g


def verdicts(cfg, figs, summaries):
    """For each Ben system: goal -> met (True/False), judged on the medians (and on every run for the counts); None
    where a figure is missing (no run finished, or the swarm did not run)."""
    g = goals(cfg)
    out = {}
    for system in BEN_SYSTEMS:
        if not figs.get(system):
            continue
        med = {k: v[system]["median"] for k, v in summaries.items() if isinstance(v.get(system), dict)}
        v = {}
        for key, text in g.items():
            if key == "events":
                v[key] = all(f["stalls"] == 0 and f["handoffs"] == 0 and f["midframe"] == 0 for f in figs[system])
            elif key == "time_to_all" and text.startswith("faster"):
                swarm = (summaries["time_to_all"].get("swarm") or {}).get("median")
                v[key] = None if swarm is None or med["time_to_all"] is None else med["time_to_all"] < swarm
            else:
                limit = float(re.search(r"<= ([\d.]+)", text).group(1))
                v[key] = None if med.get(key) is None else med[key] <= limit
        # Every run reached every node (a run that did not has no time and would drop out of the medians).
        v["complete"] = all(f["time_to_all"] is not None for f in figs[system])
        out[system] = v
    return out


def report(cfg, runs, t_opt_fn, floor, extra):
    """Prints one configuration's table: each system's median (range) side by side, the goals, and which are met."""
    g = goals(cfg)
    shown = [s for s in SYSTEMS if runs.get(s)]
    figs = {s: [figures(r, t_opt_fn) for r in runs[s]] for s in shown}
    S = next(r["bundle_bytes"] for s in shown for r in runs[s])
    counts = ", ".join(f"{len(runs[s])} {SYSTEMS[s][1]}" for s in shown)
    print(f"\n-- {cfg['n']} nodes, {cfg['mib']} MiB, {cfg['mbit']:g} Mbit/s per upload{', ' + extra['slow_relay'] + ' at R/4' if cfg['slow'] else ''}: "
          f"T_opt {t_opt_fn(S):.2f} s; runs: {counts}; median (range)")
    print(f"{'':<42} " + " ".join(f"{SYSTEMS[s][1]:<28}" for s in shown) + " goal (Ben)")
    out = {}

    def row(label, key, digits=2, unit="", goal="", systems=None):
        sums = {s: summary([f.get(key) for f in figs[s]]) for s in shown if systems is None or s in systems}
        cells = [fmt(sums[s], digits, unit) if s in sums else "" for s in shown]
        print(f"{label:<42} " + " ".join(f"{c:<28}" for c in cells) + f" {goal}")
        out[key] = sums

    row("time to all nodes", "time_to_all", 2, " s", g.get("time_to_all", ""))
    row("  × T_opt", "x_topt", 2, "", g.get("x_topt", ""))
    row("p99 ÷ p50 of per-node completion", "p99_p50", 3, "", g["p99_p50"])
    row("ledger / seed egress ÷ S (veth tx, as is)", "egress", 3)
    row("  less 66 B per packet (TCP payload)", "egress_tcp", 3, "", g["egress_tcp"])
    row("  Ben: its own count (status) ÷ S", "egress_payload", 3, systems=BEN_SYSTEMS)
    row("received by all agents ÷ N·S (veth rx)", "received", 3)
    row("  less 66 B per packet (TCP payload)", "received_tcp", 3, "", "<= 1.01 (DESIGN §8)")
    row("  Ben: transfer lines ÷ N·S", "received_payload", 4, systems=BEN_SYSTEMS)
    row("CPU-s per GiB delivered", "cpu_per_gib", 2, "", g["cpu_per_gib"] + (f"; machine floor {floor:.2f}" if floor else ""))
    row("  nats-server / opentracker, apart", "control_cpu_per_gib", 3)
    row("  their CPU-s ÷ cores ÷ time to all nodes", "cpu_bound_share", 2)
    row("machine busy during the run (all cores)", "machine_busy", 2)
    row("  of it in softirq (veths, bridge, tbf)", "machine_softirq", 2)
    row("  of it neither ours nor softirq (others)", "machine_other", 2, "", "about 0 for a clean figure")
    row("  busy in the 2 s before (the background)", "machine_busy_before", 2)
    row("1-min load average before the run", "load_before", 2, "", f"({os.cpu_count()} cores)")
    for key, label in (("stalls", "stalls"), ("handoffs", "hand-offs"), ("midframe", "mid-frame closes"), ("slowdrops", "too-slow drops")):
        cells = [", ".join(str(f[key]) for f in figs[s]) if s in BEN_SYSTEMS else "" for s in shown]
        print(f"{label + ' (per run)':<42} " + " ".join(f"{c:<28}" for c in cells) + f" {g.get('events', '') if key != 'slowdrops' else ''}")
        out[key] = {s: [f[key] for f in figs[s]] for s in shown if s in BEN_SYSTEMS}
    row("Ben: time to active (all acks verified)", "time_to_active", 2, " s", systems=BEN_SYSTEMS)
    met = verdicts(cfg, figs, out)
    for system, v in met.items():
        words = [f"{k} {'met' if ok else 'MISSED' if ok is not None else 'not judged'}" for k, ok in v.items()]
        print(f"{'goals, ' + SYSTEMS[system][1]:<42} " + "; ".join(words))
    for s in shown:
        for r in runs[s]:
            if r.get("missing") or r.get("corrupt") or r["status"] not in ("active", "complete"):
                print(f"  ! a {SYSTEMS[s][1]} run ended {r['status']}: missing {r.get('missing')}, corrupt {r.get('corrupt', [])}")
    return {"figures": figs, "summary": out, "met": met}


# ---------------------------------------------------------------------------------------------------------------

def save(results):
    if os.environ.get("BEN_SHAPED_RESULT"):
        with open(os.environ["BEN_SHAPED_RESULT"] + ".tmp", "w") as f:
            json.dump(results, f, indent=2)
        os.replace(os.environ["BEN_SHAPED_RESULT"] + ".tmp", os.environ["BEN_SHAPED_RESULT"])


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    root, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    configs = [parse_config(c) for c in os.environ.get("BEN_SHAPED_CONFIGS", DEFAULT_CONFIGS).split(",") if c.strip()]
    runs = int(os.environ.get("BEN_SHAPED_RUNS", "3"))
    bin_dir = os.environ.get("BEN_SHAPED_BIN", f"{root}/.build/release")
    keep = os.environ.get("BEN_SHAPED_KEEP", "0") == "1"
    by_name = {name: key for key, (name, _) in SYSTEMS.items()}
    systems = []
    for name in os.environ.get("BEN_SHAPED_SYSTEMS", "ben,ben-plain,swarm").split(","):
        if name.strip() not in by_name:
            raise SystemExit(f"BEN_SHAPED_SYSTEMS: unknown system {name.strip()!r}; use ben, ben-plain or swarm")
        systems.append(by_name[name.strip()])
    if os.environ.get("BEN_SHAPED_SWARM", "1") != "1" and "swarm" in systems:
        systems.remove("swarm")
    quiet = float(os.environ.get("BEN_SHAPED_QUIET", "0"))
    static_arp = os.environ.get("BEN_SHAPED_STATIC_ARP", "1") == "1"

    if os.geteuid() != 0:
        print("shaped network: skipped (needs root: it makes network namespaces, veths, a bridge and tc qdiscs)")
        return 0
    probe = f"{NS_BASE}{os.getpid()}-probe"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        print("shaped network: skipped (`ip netns add` is not permitted here)")
        return 0
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    for tool in ("tc", "ip"):
        if not shutil.which(tool):
            print(f"shaped network: skipped ({tool} is missing: apt-get install -y iproute2)")
            return 0
    for exe in ("ben-agent", "ben-ledger", "benctl"):
        if not os.access(f"{bin_dir}/{exe}", os.X_OK):
            raise SystemExit(f"{bin_dir}/{exe} is missing: swift build -c release --product {exe}")
    missing = [t for t in ("aria2c", "opentracker", "mktorrent") if not shutil.which(t)]
    if "swarm" in systems and missing:
        print(f"shaped network: the swarm needs {', '.join(missing)}; running Ben alone. Install them with:\n"
              "  apt-get install -y aria2 opentracker mktorrent")
        systems.remove("swarm")
    floor = None
    if os.environ.get("BEN_SHAPED_FLOOR") and os.path.exists(os.environ["BEN_SHAPED_FLOOR"]):
        floor = json.load(open(os.environ["BEN_SHAPED_FLOOR"]))["cpu_seconds_per_gib"]

    remove_leftovers()
    os.makedirs(work, exist_ok=True)
    results = {"format": "ben/shaped-bench/v2", "systems": systems, "configs": [], "runs_per_config": runs,
               "machine_floor_cpu_seconds_per_gib": floor, "cores": os.cpu_count(), "static_arp": static_arp,
               "load_at_start": loadavg(), "started_at": time.time()}
    prefix = f"{NS_BASE}{os.getpid()}-"
    print(f"each host in its own namespace on one bridge ({SUBNET}.0.0/16), uploads shaped by tc tbf (burst 64kb, latency 50ms); "
          f"Ben's --upload-limit off; default TCP buffers; {'static neighbour entries' if static_arp else 'ARP left to the kernel'}; "
          f"systems alternated: {', '.join(SYSTEMS[s][1] for s in systems)}; load average {' '.join(f'{x:.2f}' for x in loadavg())}")
    try:
        for cfg in configs:
            cwork = f"{work}/{cfg['text'].replace('/', 'q')}"
            shutil.rmtree(cwork, ignore_errors=True)
            os.makedirs(cwork)
            started = time.time()
            net = Network(prefix, cfg["n"])
            say(f"{cfg['text']}: {cfg['n'] + 2} namespaces ...")
            net.create()
            if static_arp:
                net.static_neighbours()
            ben = Ben(root, bin_dir, cwork, net, cfg)
            ben.prepare()
            rates = {h: cfg["mbit"] for h in net.hosts}
            extra = {}
            if cfg["slow"]:
                relay, plan = ben.slow_relay()
                rates[relay] = cfg["mbit"] / 4
                extra = {"slow_relay": relay, "nodes_below": below(plan, relay)}
                say(f"  {relay} ({below(plan, relay)} nodes below it in the plan) uploads at {rates[relay]:g} Mbit/s")
                if DECLARE_SLOW:
                    ben.declare_uplink(relay, rates[relay])
                    extra["declared_uplink"] = True
                    say(f"  the topology file gives {relay} its real uplink, so the ledger plans around it")
            net.shape(rates)
            swarm = None
            if "swarm" in systems:
                swarm = Swarm(cwork, net, ben.payload, cfg["mib"] * CHUNK)
                swarm.prepare()
            B = cfg["mbit"] * 1e6 / 8

            def t_opt(S, n=cfg["n"], B=B):
                return S / B + math.log2(n) * CHUNK / B

            done = {s: [] for s in systems}
            # Every run as it ends, so an interrupted benchmark still leaves what it measured.
            results["unfinished"] = {"config": cfg, **extra, "runs": done}
            for i in range(runs):
                for system in systems:
                    if quiet:
                        wait_quiet(quiet)
                    if system == "swarm":
                        r = swarm.run(i)
                    else:
                        r = ben.run(i, encrypt=system == "ben")
                        if cfg["slow"] and r.get("plan"):
                            r["slow_relay_below_in_plan"] = below(r["plan"], extra["slow_relay"])
                            if r["slow_relay_below_in_plan"] != extra["nodes_below"]:
                                say(f"  ! the ledger's plan differs from the predicted one: {extra['slow_relay']} has {r['slow_relay_below_in_plan']} nodes below it")
                    done[system].append(r)
                    save(results)
                    f = figures(r, t_opt)
                    head = f"  {SYSTEMS[system][1]:<20} run {i + 1}: {r['status']}, all nodes {fmt(summary([f['time_to_all']]), 2, ' s')} = {fmt(summary([f['x_topt']]))} T_opt, egress {f['egress']:.2f} S, "
                    tail = (f"{f['cpu_per_gib']:.1f} CPU-s/GiB, machine busy {f['machine_busy']:.0%} (others {f['machine_other']:.0%}; before {f['machine_busy_before']:.0%}), "
                            f"load {r['load_before'][0]:.1f}")
                    if system == "swarm":
                        say(head + f"leechers launched in {r['launch_seconds']:.2f} s, " + tail)
                        d = f"{cwork}/swarm-{i}"
                        for n in net.hosts[1:]:  # the downloaded copies; logs stay
                            if os.path.exists(f"{d}/{n}/payload.bin"):
                                os.remove(f"{d}/{n}/payload.bin")
                        if not keep and i > 0:
                            shutil.rmtree(f"{cwork}/swarm-{i - 1}", ignore_errors=True)
                    else:
                        say(head + f"stalls {f['stalls']}, hand-offs {f['handoffs']}, mid-frame {f['midframe']}, too slow {f['slowdrops']}, " + tail)
                        # Logs are kept for the last run and for every run with a stall, hand-off or mid-frame close.
                        name = "ben" if system == "ben" else "ben-plain"
                        if not keep and i > 0 and not any(done[system][i - 1]["counts"].values()):
                            shutil.rmtree(f"{cwork}/{name}-{i - 1}", ignore_errors=True)
                        shutil.rmtree(f"{cwork}/{name}-{i}/agents", ignore_errors=True)
                        shutil.rmtree(f"{cwork}/{name}-{i}/ledger/store", ignore_errors=True)
            rep = report(cfg, done, t_opt, floor, extra)
            net.destroy()
            results.pop("unfinished", None)
            S = next(r["bundle_bytes"] for s in systems for r in done[s])
            results["configs"].append({
                "config": cfg, "optimal_seconds": t_opt(S), "bundle_bytes": S, "wall_seconds": time.time() - started,
                "topology_yaml": ben.topology_yaml, **extra, "runs": done,
                "figures": rep["figures"], "summary": rep["summary"], "goals": goals(cfg), "goals_met": rep["met"],
            })
            for p in (ben.payload,):
                if os.path.exists(p):
                    os.remove(p)
            shutil.rmtree(ben.bundle, ignore_errors=True)
            sys.stdout.flush()
    finally:
        results["wall_seconds"] = time.time() - results["started_at"]
        save(results)
        registry.teardown()
    print(f"\nshaped network: {len(configs)} configurations in {results['wall_seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
