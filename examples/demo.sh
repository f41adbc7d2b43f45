#!/usr/bin/env bash
# `make demo`: the main job. A local fleet — a real nats-server with JetStream, the ledger, and one ben-agent
# per node of topology/local.yaml, each its own process — deploys examples/intent, changes a policy, survives
# a stopped agent, rolls back, and rolls a bad policy out in waves: its canary wave raises alerts, the gate aborts
# the rollout and the canaries are rolled back automatically. Run after `make demo` built everything; Ctrl-C at any
# point cleans up.
# NATS runs the authorization `benctl nats config` writes for topology/local.yaml: each process has its own credentials.
#
# BEN_DEMO_DROP_ACK=NODE makes the failure act harder: NODE activates v2 but its ack is lost on the way (a fault
# injected with ben-agent --fault-drop-acks); the retry must recover it without sending it anything again.
# `make test` runs the demo this way on a busy machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BEN_BIN:-$ROOT/.build/debug}
WORK=$(mktemp -d /tmp/ben-demo.XXXXXX)
NATS_PORT=${BEN_DEMO_NATS_PORT:-14222}
PIDS=()
AGENT_PIDS=()

bold() { printf '\033[1m%s\033[0m\n' "$*"; }
step() { printf '\n'; bold "== $*"; }
say() { printf '   %s\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ ${#PIDS[@]} -gt 0 ]; then
    kill "${PIDS[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
      local alive=0
      for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ $alive -eq 0 ] && break
      sleep 0.1
    done
    kill -9 "${PIDS[@]}" 2>/dev/null || true
  fi
  if [ $status -ne 0 ]; then
    echo "demo stopped (exit $status); logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in nats-server python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool; run make demo (it installs what it needs)" >&2; exit 1; }
done
for exe in benctl ben-ledger ben-agent; do
  [ -x "$BIN/$exe" ] || { echo "missing $BIN/$exe; run make demo (it builds first)" >&2; exit 1; }
done

# The demo keys ship with the topology; git stores them 0644, and Ben refuses a key others can read.
cp -r topology/local-keys "$WORK/keys"
chmod 600 "$WORK"/keys/*.key
export BEN_FLEET=local BEN_NATS="nats://127.0.0.1:$NATS_PORT" BEN_OPERATOR_KEY="$WORK/keys/operator.key"
# NATS runs Ben's authorization: every process below connects with its own credentials (step 1).
export BEN_NATS_CREDS="$WORK/nats/operators/operator.creds"
python3 - topology/local.yaml > "$WORK/nodes.txt" <<'PY'
import sys, yaml
t = yaml.safe_load(open(sys.argv[1]))
for region in t["regions"]:
    for zone in region["zones"]:
        for rack in zone["racks"]:
            for n in rack["nodes"]:
                print(n["id"], n["address"], " ".join(n["roles"]))
PY

DROP_ACK=${BEN_DEMO_DROP_ACK:-}
start_agent() { # id address roles…
  local id=$1 address=$2; shift 2
  local fault=()
  [ "$id" = "$DROP_ACK" ] && fault=(--fault-drop-acks 1@2)
  "$BIN/ben-agent" --node "$id" --fleet local --roles "$@" --key "$WORK/keys/$id.key" --listen "$address" \
    --nats "$BEN_NATS" --nats-creds "$WORK/nats/nodes/$id.creds" --ledger-key "$WORK/keys/ledger.key.pub" --state "$WORK/agents/$id" --heartbeat 5 "${fault[@]}" \
    >> "$WORK/agent-$id.log" 2>&1 &
  PIDS+=($!)
  AGENT_PIDS[$(grep -n "^$id " "$WORK/nodes.txt" | cut -d: -f1)]=$!
}

# The fleet's addresses are fixed by topology/local.yaml: another fleet on them would answer this one's ledger.
busy=$(ss -Hltn 2>/dev/null | awk '{print $4}' | grep -E '^127\.0\.0\.1:(740[0-9]|741[0-8])$' || true)
if [ -n "$busy" ]; then
  echo "ports the demo fleet needs are taken: $(echo $busy | tr '\n' ' '); stop whatever listens there (another demo?)" >&2
  exit 1
fi

step "1. The control plane and the ledger"
say "nats-server with JetStream carries announcements, acks and the operator API; it is not the data plane."
say "It runs Ben's authorization: one nkey user per node, the ledger and the operator, each with its own subjects."
run "$BIN/benctl" nats config --topology topology/local.yaml --out "$WORK/nats"
nats-server -c "$WORK/nats/nats-server.conf" -js -sd "$WORK/nats-store" -a 127.0.0.1 -p "$NATS_PORT" > "$WORK/nats.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "Server is ready" "$WORK/nats.log" && break; sleep 0.05; done
if ! grep -q "Server is ready" "$WORK/nats.log"; then
  # Another server on the port would hand this fleet someone else's announcements.
  echo "nats-server did not start on 127.0.0.1:$NATS_PORT (is something else listening there? set BEN_DEMO_NATS_PORT):" >&2
  tail -3 "$WORK/nats.log" >&2
  exit 1
fi
"$BIN/ben-ledger" --fleet local --nats "$BEN_NATS" --nats-creds "$WORK/nats/ledger.creds" --data "$WORK/ledger" --key "$WORK/keys/ledger.key" \
  --operator-key "$WORK/keys/operator.key.pub" --seed-listen 127.0.0.1:7400 --silent-after 8 \
  --status-listen 127.0.0.1:7480 --metrics-listen 127.0.0.1:7490 > "$WORK/ledger.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do "$BIN/benctl" versions >/dev/null 2>&1 && break; sleep 0.1; done
say "nats-server on :$NATS_PORT, ben-ledger (SQLite state, chunk store, seed listener on :7400)"
say "Only the ledger may announce and only operators may ask it anything; NATS itself refuses the rest. proxy-1's credentials:"
set +e
BEN_NATS_CREDS="$WORK/nats/nodes/proxy-1.creds" run "$BIN/benctl" versions --request-timeout 2
set -e
say "Watch it live at http://127.0.0.1:7480/ (the status page); metrics at http://127.0.0.1:7490/metrics"

step "2. The fleet: one ben-agent process per node of topology/local.yaml"
while read -r id address roles; do
  # shellcheck disable=SC2086
  start_agent "$id" "$address" $roles
done < "$WORK/nodes.txt"
say "$(wc -l < "$WORK/nodes.txt") agents started ($(cut -d' ' -f3- "$WORK/nodes.txt" | tr ' ' '\n' | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}' | sed 's/, $//'))"
sleep 1
run "$BIN/benctl" topology apply topology/local.yaml

step "3. Build the example intent, stage it (nothing is deployed yet)"
run "$BIN/benctl" build examples/intent -o "$WORK/bundle-v1" | tail -4
run "$BIN/benctl" stage "$WORK/bundle-v1" --label "examples/intent"

step "4. Deploy v1: the ledger signs the announcement and pushes chunks down the stripe trees"
say "No --timeout: the deadline follows the plan (predicted transfer, compile, ack levels, a margin)."
run "$BIN/benctl" deploy 1 --wait
say "Every one of those acks is a node's own Ed25519 signature, verified by the ledger against the topology."

step "5. Ask a proxy what it decides now"
say "An export of 5 MB, without the exporter role, under v1's 1 MB limit:"
run "$BIN/benctl" eval --node proxy-1 --role proxy --input examples/requests/proxy-export.json

step "6. Change the policy: raise the bulk-export limit to 50 MB, and stage v2"
mkdir -p "$WORK/intent-v2" && cp -r examples/intent/. "$WORK/intent-v2/"
sed -i 's/request.export_bytes > 1000000u/request.export_bytes > 50000000u/' "$WORK/intent-v2/policies/edge.yaml"
diff -u examples/intent/policies/edge.yaml "$WORK/intent-v2/policies/edge.yaml" | sed -n '/^[-+] /p' || true
run "$BIN/benctl" stage "$WORK/intent-v2" --label "export limit 50 MB"
say "Only the changed chunk went up; the rest were in the ledger's store already."

step "7. The failure act: stop detector-2's agent, then deploy v2"
victim_line=$(grep -n "^detector-2 " "$WORK/nodes.txt" | cut -d: -f1)
kill "${AGENT_PIDS[$victim_line]}"
say "detector-2 stopped. The rollout cannot prove detector-2 switched, so v2 must not be called active."
[ -n "$DROP_ACK" ] && say "And $DROP_ACK will activate v2, but its ack will be lost on the way (injected fault)."
set +e
run "$BIN/benctl" deploy 2 --wait
code=$?
set -e
[ "$code" -eq 2 ] || { echo "expected v2 to be incomplete (exit 2), got exit $code" >&2; exit 1; }
say "exit code $code: 2 means incomplete. Everyone else runs v2; detector-2 is named, with the reason."
say "Drift, from the agents' heartbeats (every 5 s here; detector-2 has gone silent):"
sleep 3
run "$BIN/benctl" status --drift

step "8. Restart detector-2: it serves its last verified version at once and catches up on its own"
read -r _ address roles < <(grep "^detector-2 " "$WORK/nodes.txt")
# shellcheck disable=SC2086
start_agent detector-2 "$address" $roles
sleep 2
say "Restarted, it answered at once from its last verified version, read v2 from JetStream, pulled it from the"
say "ledger's store (which serves late nodes until the version is final) and acked: a late ack counts."
run "$BIN/benctl" eval --node detector-2 --role detector --input examples/requests/detector-login.json
if "$BIN/benctl" status 2 >/dev/null 2>&1; then
  say "detector-2's late ack was the last one missing: v2 became active by itself, after its deadline."
  run "$BIN/benctl" status 2
else
  say "--retry goes to every node whose signed ack is missing, including any that already run v2 (they answer again)."
  run "$BIN/benctl" deploy 2 --retry --wait
fi

step "9. The same request under v2"
run "$BIN/benctl" eval --node proxy-1 --role proxy --input examples/requests/proxy-export.json

step "10. Roll back: a new version, v3, carrying v1's content (agents never go backwards)"
run "$BIN/benctl" rollback --to 1 --wait
run "$BIN/benctl" eval --node proxy-1 --role proxy --input examples/requests/proxy-export.json

step "11. Waves and a gate: a canary wave, and an automatic abort on a bad policy (issue 17)"
say "v4 adds a detection rule that fires on every successful sign-in: it builds and compiles, and would page"
say "someone for every login in production. It goes out in waves: two detectors first, baked while their own"
say "alerts are counted; the rest only if the canary's gates hold."
mkdir -p "$WORK/intent-v4" && cp -r examples/intent/. "$WORK/intent-v4/"
cat >> "$WORK/intent-v4/detectors/auth.yaml" <<'YAML'
  - name: every_sign_in
    when: event.success
    severity: info
    message: a sign-in succeeded
YAML
bad=$("$BIN/benctl" stage "$WORK/intent-v4" --label "a noisy detection rule" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
say "staged as v$bad"
cat > "$WORK/rollout.yaml" <<'YAML'
format: ben/rollout-policy/v1
on_failure: rollback            # nodes already on the version get the previous content back, as a new version
waves:
  - name: canary
    select: {nodes: [detector-1, detector-2]}
    bake: 30s
    gates: {max_refusals: 0, max_missing: 0, max_alerts: 0}
  - name: rest
YAML
run cat "$WORK/rollout.yaml"
run "$BIN/benctl" deploy "$bad" --policy "$WORK/rollout.yaml"
rollout_step() { "$BIN/benctl" status "$bad" --json 2>/dev/null | python3 -c 'import json,sys; print((json.load(sys.stdin).get("rollout") or {}).get("step", ""))' 2>/dev/null || true; }
for _ in $(seq 300); do [ "$(rollout_step)" = "baking" ] && break; sleep 0.2; done
[ "$(rollout_step)" = "baking" ] || { echo "the canary wave of v$bad did not reach its bake (step: $(rollout_step))" >&2; "$BIN/benctl" status "$bad" >&2; exit 1; }
say "The canaries run v$bad and bake. An ordinary sign-in reaches detector-1 (v3 raises nothing for it):"
run "$BIN/benctl" eval --node detector-1 --role detector --input examples/requests/detector-login-ordinary.json
say "detector-1's next heartbeat carries the alert; the gate allows none. Following the rollout (one line per change"
say "here; on a terminal, status --watch redraws waves, progress by location and missing nodes in place):"
set +e
run "$BIN/benctl" status "$bad" --watch
code=$?
set -e
[ "$code" -eq 2 ] || { echo "expected v$bad to be aborted (exit 2), got exit $code" >&2; exit 1; }
say "Its status (the first lines; every node outside the canary wave is named: it never received v$bad):"
run "$BIN/benctl" status "$bad" | sed -n 1,18p
rollback=$("$BIN/benctl" status "$bad" --json | python3 -c 'import json,sys; print((json.load(sys.stdin).get("rollout") or {}).get("rollback") or "")')
[ -n "$rollback" ] || { echo "v$bad was aborted but no rollback version was made" >&2; exit 1; }
say "The rollback is v$rollback: v3's content, signed as a new version, sent to the two canaries only."
for _ in $(seq 300); do
  [ "$("$BIN/benctl" status "$rollback" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" != "deploying" ] && break
  sleep 0.2
done
run "$BIN/benctl" status "$rollback"
say "detector-1 is back on v3's rules; proxy-1, outside the canary wave, never even saw v$bad:"
run "$BIN/benctl" eval --node detector-1 --role detector --input examples/requests/detector-login-ordinary.json
run "$BIN/benctl" eval --node proxy-1 --role proxy --input examples/requests/proxy-export.json
say "Every decision of the rollout is in the audit log:"
"$BIN/benctl" log | grep -E "rollout|abort|rollback" | tail -8 || true

step "12. History: every stage, deploy, transition and ack summary, hash-chained"
run "$BIN/benctl" versions
"$BIN/benctl" log | tail -6
run "$BIN/benctl" log --verify

step "13. Shutting down"
kill -TERM "${PIDS[@]}" 2>/dev/null || true
for pid in "${PIDS[@]}"; do
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
done
left=0
for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && left=$((left + 1)); done
say "$((${#PIDS[@]} - left)) processes stopped on SIGTERM, $left left over"
PIDS=()
bold "Demo complete."
