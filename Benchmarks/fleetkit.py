"""What the benchmark scripts that start real processes share: the processes they started (killed by pid on the way
out, whatever happens), free loopback ports, benctl, waiting on a condition, RFC 3339 times and percentiles."""
import datetime, math, signal, socket, subprocess, sys, time

processes = {}  # name -> Popen, every process a script started


def cleanup(*_):
    """Kills every process in `processes` and waits for each (at most 10 s)."""
    for p in processes.values():
        if p.poll() is None:
            p.kill()
    for p in processes.values():
        try:
            p.wait(timeout=10)
        except Exception:
            pass


def _on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


def cleanup_on_signals():
    """SIGTERM and SIGINT kill what the script started before it exits."""
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def free_ports(n):
    """n loopback ports free at the moment of asking (all held at once, so they differ)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def benctl_runner(path, env):
    """A `benctl(*args, check=True)` for the binary at `path`, run with `env`; it raises with the output on failure."""
    def benctl(*args, check=True):
        out = subprocess.run([path, *args], env=env, capture_output=True, text=True)
        if check and out.returncode != 0:
            raise RuntimeError(f"benctl {' '.join(args)}: {out.returncode}\n{out.stdout}{out.stderr}")
        return out
    return benctl


def wait_for(what, cond, timeout=60, every=0.1):
    """Polls `cond` until it holds; raises naming `what` after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(every)
    raise RuntimeError(f"timed out waiting until {what}")


def ts(text):
    """Seconds since the epoch of an RFC 3339 time as Ben logs it."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values, p):
    """The p-th percentile, nearest rank."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))]


def keygen(benctl_path, work, name):
    """A new node key at WORK/NAME.key (benctl keygen); returns its public key's hex."""
    subprocess.run([benctl_path, "keygen", "--out", f"{work}/{name}.key"], check=True, capture_output=True)
    return open(f"{work}/{name}.key.pub").read().split()[0]


def below(plan, node):
    """The most nodes below `node` in any stripe tree of a plan (its JSON: nodes, and each stripe's parents)."""
    index = [n["id"] for n in plan["nodes"]].index(node)
    most = 0
    for parents in plan["stripes"]:
        children = {}
        for i, p in enumerate(parents):
            children.setdefault(p, []).append(i)
        count, queue = 0, list(children.get(index, []))
        while queue:
            count += 1
            queue += children.get(queue.pop(), [])
        most = max(most, count)
    return most
