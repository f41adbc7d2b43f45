#!/usr/bin/env python3
"""Builds the worked examples of docs/formats.md with nothing of Ben's: Python's json, hashlib (BLAKE2b) and
cryptography (Ed25519). Ben's test suite rebuilds the same documents with Ben's code and checks that the bytes
are identical, so these files are checked from both sides.

Run from anywhere: python3 docs/examples/make_examples.py
"""
import base64
import hashlib
import json
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))


def canonical(value):
    """RFC 8785 for strings, safe integers, booleans, null, arrays and objects (all Ben's documents hold)."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(v) for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def key(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def signer(seed: bytes):
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return private, public, key(public)[:16]


def envelope(document, context: str, seed: bytes):
    private, _, keyid = signer(seed)
    signed = canonical(document).encode()
    sig = private.sign(context.encode() + b"\x00" + signed)
    return {"signed": document, "signatures": [{"keyid": keyid, "sig": base64.b64encode(sig).decode()}]}


def write(name, text):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        f.write(text)


ledger_seed = bytes(range(0, 32))
node_seed = bytes(range(32, 64))

artifact = bytes(i % 251 for i in range(5000))
chunks = [artifact[0:4096], artifact[4096:]]
for i, c in enumerate(chunks):
    with open(os.path.join(HERE, f"chunk-{i}.bin"), "wb") as f:
        f.write(c)

manifest = {
    "format": "ben/manifest/v1",
    "artifacts": [{
        "name": "policy/edge",
        "kind": "policy_pack",
        "roles": ["proxy", "spine"],
        "size": len(artifact),
        "chunk_size": 4096,
        "key": key(artifact),
        "chunks": [key(c) for c in chunks],
    }],
}
manifest_bytes = canonical(manifest).encode()
write("manifest.json", manifest_bytes.decode())

announcement = {
    "fleet": "demo",
    "version": 7,
    "manifest": key(manifest_bytes),
    "manifest_size": len(manifest_bytes),
    "plan": key(b"example plan"),
    "topology": key(b"example topology"),
    "issued_at": "2026-11-27T12:00:00.000Z",
    "deadline": "2026-11-27T12:02:00.000Z",
    "expires": "2026-11-28T12:02:00.000Z",
    "ledger": "127.0.0.1:7400",
    "epoch": 3,
}
write("announcement.json", canonical(envelope(announcement, "ben/announce/v1", ledger_seed)))

ack = {
    "fleet": "demo",
    "version": 7,
    "node": "proxy-1",
    "manifest": key(manifest_bytes),
    "status": "active",
    "reason": "",
    "at": "2026-11-27T12:00:03.250Z",
}
ack_envelope = envelope(ack, "ben/ack/v1", node_seed)
write("ack.json", canonical(ack_envelope))

aggregate = {
    "fleet": "demo",
    "version": 7,
    "relay": "proxy-1",
    "acks": [ack_envelope],
    "missing": [{"node": "proxy-2", "reason": "unreachable: connection refused"}],
}
write("aggregate.json", canonical(aggregate))

_, ledger_public, ledger_keyid = signer(ledger_seed)
_, node_public, node_keyid = signer(node_seed)
write("keys.txt", f"ledger public key {ledger_public.hex()} keyid {ledger_keyid}\n"
                  f"proxy-1 public key {node_public.hex()} keyid {node_keyid}\n")
print("wrote", HERE)
