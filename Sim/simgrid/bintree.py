#!/usr/bin/python3
"""A binary-tree broadcast in SimGrid (python3-simgrid), the independent check of Ben's flow engine.

hosts: the root (the ledger) and hosts-1 receivers; host i's parent is (i-1)//2, so the root has two children.
Every host has a private split-duplex link (bandwidth B each way, latency L/2) to a backbone with no cost, so a
hop costs L and a sender's uplink is shared by its children's flows. Each sender sends the chunks in order on each
child's link, one at a time (as Ben's relays do), and forwards chunk q as soon as it holds it. Model factors are
set to 1 (no TCP slow-start or bandwidth factor), matching the flow engine's fluid model.

Prints one JSON object: hosts, makespan (s), p50 (s), wall seconds, messages.
"""
import json
import sys
import time

import simgrid


def main():
    hosts, bundle, chunk, bw, lat = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    platform = sys.argv[6]
    chunks = (bundle + chunk - 1) // chunk
    with open(platform, "w") as f:
        f.write(f"""<?xml version='1.0'?>
<!DOCTYPE platform SYSTEM "https://simgrid.org/simgrid.dtd">
<platform version="4.1">
  <cluster id="c" prefix="h" suffix="" radical="0-{hosts - 1}" speed="1Gf" bw="{bw}Bps" lat="{lat / 2}s"
           sharing_policy="SPLITDUPLEX" bb_bw="1000TBps" bb_lat="0s" bb_sharing_policy="FATPIPE"/>
</platform>
""")
    wall = time.perf_counter()
    e = simgrid.Engine(["bintree", "--cfg=network/latency-factor:1", "--cfg=network/bandwidth-factor:1",
                        "--cfg=network/crosstraffic:0", "--cfg=network/TCP-gamma:0", "--log=root.thresh:warning"])
    e.load_platform(platform)
    done = [0.0] * hosts
    messages = [0]

    def node(i):
        children = [c for c in (2 * i + 1, 2 * i + 2) if c < hosts]
        inbox = simgrid.Mailbox.by_name(f"h{i}")
        have = chunks if i == 0 else 0
        sent = [0] * len(children)
        sending = [None] * len(children)
        getting = None
        while have < chunks or any(s < chunks for s in sent):
            if have < chunks and getting is None:
                getting = inbox.get_async()
            for j, c in enumerate(children):
                if sending[j] is None and sent[j] < have:
                    sending[j] = simgrid.Mailbox.by_name(f"h{c}").put_async(sent[j], chunk)
                    messages[0] += 1
            active = [(j, s) for j, s in enumerate(sending) if s is not None]
            comms = [s for _, s in active] + ([getting[0]] if getting is not None else [])
            k = simgrid.Comm.wait_any(comms)
            if k < len(active):
                j = active[k][0]
                sending[j] = None
                sent[j] += 1
            else:
                getting = None
                have += 1
                if have == chunks:
                    done[i] = simgrid.Engine.clock

    for i in range(hosts):
        simgrid.Actor.create(f"n{i}", simgrid.Host.by_name(f"h{i}"), node, i)
    e.run()
    wall = time.perf_counter() - wall
    receivers = sorted(done[1:])
    print(json.dumps({"hosts": hosts, "makespan_seconds": receivers[-1], "p50_seconds": receivers[len(receivers) // 2],
                      "wall_seconds": wall, "messages": messages[0]}))


if __name__ == "__main__":
    main()
