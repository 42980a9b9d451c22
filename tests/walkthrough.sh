#!/usr/bin/env bash
# Runs the README walk-through, as written, against a fresh release server on SQLite.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/target/release"
ln -s "$root/target/release/ptt-ledger" "$work/target/release/ptt-ledger"
cd "$work"
./target/release/ptt-ledger serve --bind 127.0.0.1:8080 >server.log 2>&1 &
server=$!
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:8080/healthz >/dev/null && break; sleep 0.2; done
sed -n '/<!-- walkthrough:start -->/,/<!-- walkthrough:end -->/p' "$root/README.md" | sed '/^<!--/d;/^```/d' >walkthrough.sh
bash -euo pipefail walkthrough.sh >walkthrough.out
grep -q '"ok": true' walkthrough.out || { cat walkthrough.out; echo "walk-through: verify not ok" >&2; exit 1; }
grep -q '"status": "paid"' walkthrough.out || { cat walkthrough.out; echo "walk-through: claim not paid" >&2; exit 1; }
grep -q '"spent": "250.00"' walkthrough.out || { cat walkthrough.out; echo "walk-through: spend missing" >&2; exit 1; }
echo "README walk-through ran as written: ok"
