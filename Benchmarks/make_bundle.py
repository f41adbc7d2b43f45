#!/usr/bin/env python3
"""Adds a payload artifact to a bundle folder `benctl build` wrote, for benchmarks that need a big bundle.

Usage: make_bundle.py BUNDLE_DIR PAYLOAD_JSON
PAYLOAD_JSON is what `benctl store put --json --store BUNDLE_DIR FILE` printed. The payload is for the
data_migrator role, so fleets without data migrators relay and store it without compiling it. The new manifest
is written in RFC 8785 form under its key, and BUNDLE_DIR/manifest.key is updated.
"""
import hashlib, json, os, sys

folder, payload_json = sys.argv[1:3]
key = open(os.path.join(folder, "manifest.key")).read().split()[0]
manifest = json.load(open(os.path.join(folder, "objects", key[:2], key)))
payload = json.load(open(payload_json))[0]
manifest["artifacts"].append({
    "name": "payload/blob", "kind": "contract", "roles": ["data_migrator"], "size": payload["size"],
    "chunk_size": 1 << 20, "key": payload["key"], "chunks": payload["chunks"],
})
manifest["artifacts"].sort(key=lambda a: a["name"])

def canonical(v):
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k) + ":" + canonical(v[k]) for k in sorted(v, key=lambda k: k.encode("utf-16-be"))) + "}"
    if isinstance(v, list):
        return "[" + ",".join(canonical(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)

data = canonical(manifest).encode()
new = hashlib.blake2b(data, digest_size=32).hexdigest()
os.makedirs(os.path.join(folder, "objects", new[:2]), exist_ok=True)
with open(os.path.join(folder, "objects", new[:2], new), "wb") as f:
    f.write(data)
with open(os.path.join(folder, "manifest.key"), "w") as f:
    f.write(new + "\n")
print(new)
