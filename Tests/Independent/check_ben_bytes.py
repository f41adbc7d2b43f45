#!/usr/bin/env python3
"""An independent implementation checks Ben's bytes (DESIGN §5).

Usage: check_ben_bytes.py ENVELOPE.json PUBLIC_KEY_HEX CONTEXT CHUNK_FILE CHUNK_KEY

Verifies, with Python's `cryptography` and `hashlib` and nothing of Ben's:
  1. the canonical (RFC 8785) bytes of the envelope's "signed" object, re-derived here;
  2. the Ed25519 signature over CONTEXT + 0x00 + those bytes, by the given public key;
  3. the keyid (first 16 hex digits of BLAKE2b-256 of the raw public key);
  4. the chunk key: BLAKE2b-256 of the chunk file's bytes;
  5. for an announcement (context ben/announce/v1), its fields as docs/formats.md lists them: exactly these
     names, and `epoch` (the ledger's lease epoch) and `version` non-negative integers.
Prints one line per check and exits non-zero on the first failure.
"""
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
import base64


def canonical(value):
    # RFC 8785 for the values Ben's documents hold: strings, safe integers, booleans, null, arrays, objects.
    # Member names are sorted by UTF-16 code units.
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(v) for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise SystemExit(f"unsupported value {value!r}")


ANNOUNCEMENT_FIELDS = {
    "fleet", "version", "manifest", "manifest_size", "plan", "topology", "issued_at", "deadline", "expires",
    "ledger", "epoch",
}


def check_announcement(signed):
    names = set(signed)
    if names != ANNOUNCEMENT_FIELDS:
        raise SystemExit(
            f"announcement fields: missing {sorted(ANNOUNCEMENT_FIELDS - names)}, unknown {sorted(names - ANNOUNCEMENT_FIELDS)}")
    for name in ("epoch", "version", "manifest_size"):
        value = signed[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**53 - 1:
            raise SystemExit(f"announcement {name}: expected a non-negative safe integer, found {value!r}")
    print(f"announcement fields ok (version {signed['version']}, epoch {signed['epoch']})")


def main():
    envelope_path, public_hex, context, chunk_path, chunk_key = sys.argv[1:6]
    envelope = json.load(open(envelope_path, encoding="utf-8"))
    signed = canonical(envelope["signed"]).encode("utf-8")
    public = bytes.fromhex(public_hex)
    keyid = hashlib.blake2b(public, digest_size=32).hexdigest()[:16]
    sig = envelope["signatures"][0]
    if sig["keyid"] != keyid:
        raise SystemExit(f"keyid mismatch: envelope says {sig['keyid']}, recomputed {keyid}")
    print(f"keyid ok {keyid}")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(
            base64.b64decode(sig["sig"]), context.encode() + b"\x00" + signed)
    except InvalidSignature:
        raise SystemExit("signature does not verify")
    print("signature ok")
    if context == "ben/announce/v1":
        check_announcement(envelope["signed"])
    digest = hashlib.blake2b(open(chunk_path, "rb").read(), digest_size=32).hexdigest()
    if digest != chunk_key:
        raise SystemExit(f"chunk key mismatch: Ben says {chunk_key}, hashlib says {digest}")
    print(f"chunk key ok {digest}")


if __name__ == "__main__":
    main()
