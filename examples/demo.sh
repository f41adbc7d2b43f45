#!/usr/bin/env bash
# `make demo`: the main job, as far as Ben has come. Runs from the repository root after `make demo` built it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.build/debug
work=$(mktemp -d /tmp/ben-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. An Ed25519 key for the ledger (seed file, mode 0600)"
$BIN/benctl keygen --out "$work/ledger.key"
ls -l "$work/ledger.key" | awk '{print "   " $1 "  " $NF}'

step "2. Keys are BLAKE2b-256: benctl hash and b2sum agree"
head -c 3000000 /dev/urandom > "$work/artifact.bin"
$BIN/benctl hash "$work/artifact.bin"
b2sum -l 256 "$work/artifact.bin"

step "3. ben_store_access: chunk the artifact into a content-addressed store (64 KiB chunks)"
$BIN/benctl store put --store "$work/store" --chunk-size 65536 "$work/artifact.bin"
$BIN/benctl store verify "$work/store"

step "4. A flipped byte on disk is caught, named and quarantined"
victim=$(find "$work/store/objects" -type f -print -quit)
chmod u+w "$victim"
printf '\xff' | dd of="$victim" bs=1 seek=100 conv=notrunc status=none
$BIN/benctl store verify "$work/store" || echo "   (exit $? : the bad object is listed above and moved to quarantine)"
$BIN/benctl store verify "$work/store"
