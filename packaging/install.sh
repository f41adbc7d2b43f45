#!/usr/bin/env bash
# Installs Ben's executables, shell completions, systemd units, sysusers file, example configs and docs under a
# prefix (`make install PREFIX=/usr/local`, docs/operations.md). Usage:
#   packaging/install.sh --from .build/release --prefix /usr/local [--destdir /tmp/stage]
# DESTDIR-style staging: files go to DESTDIR/PREFIX/..., and the units name PREFIX/bin, where they will run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
from="" prefix="/usr/local" destdir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from="$2"; shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    --destdir) destdir="$2"; shift 2 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 1 ;;
  esac
done
[ -n "$from" ] || { echo "install.sh: --from BUILD_DIR is required" >&2; exit 1; }
case "$prefix" in /*) ;; *) echo "install.sh: --prefix must be absolute, not $prefix" >&2; exit 1 ;; esac

executables=(benctl ben-ledger ben-agent ben-sim)
bindir="$prefix/bin"
docdir="$prefix/share/doc/ben"
out="$destdir$prefix"

for exe in "${executables[@]}"; do
  [ -x "$from/$exe" ] || { echo "install.sh: $from/$exe is missing; build first (make install builds)" >&2; exit 1; }
done

install -d "$out/bin" "$out/share/bash-completion/completions" "$out/share/zsh/site-functions" \
  "$out/share/fish/vendor_completions.d" "$out/lib/systemd/system" "$out/lib/sysusers.d" "$out/share/doc/ben/examples"
for exe in "${executables[@]}"; do
  install -m 0755 "$from/$exe" "$out/bin/$exe"
  # swift-argument-parser writes the completion scripts.
  "$from/$exe" --generate-completion-script bash > "$out/share/bash-completion/completions/$exe"
  "$from/$exe" --generate-completion-script zsh > "$out/share/zsh/site-functions/_$exe"
  "$from/$exe" --generate-completion-script fish > "$out/share/fish/vendor_completions.d/$exe.fish"
done
for unit in ben-ledger ben-agent; do
  sed -e "s|@BINDIR@|$bindir|g" -e "s|@DOCDIR@|$docdir|g" "$here/systemd/$unit.service" > "$out/lib/systemd/system/$unit.service"
  chmod 0644 "$out/lib/systemd/system/$unit.service"
done
install -m 0644 "$here/systemd/ben.sysusers" "$out/lib/sysusers.d/ben.conf"
install -m 0644 "$here/examples/ledger.yaml" "$here/examples/agent.yaml" "$out/share/doc/ben/examples/"
install -m 0644 "$root/README.md" "$root"/docs/*.md "$out/share/doc/ben/"
install -m 0644 "$root/docs/grafana-dashboard.json" "$out/share/doc/ben/"
echo "installed ${executables[*]} under $out"
