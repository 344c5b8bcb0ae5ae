#!/usr/bin/env bash
# The README's "Running it as a service" steps, end to end, on loopback: a Prefect server, the
# deployments served, a run started as the UI starts one, the nightly schedule read back, and a
# render requested and downloaded with curl through the API. Leaves nothing running.
# Usage: scripts/service_walkthrough.sh   (after `make setup`; takes a few minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

export PREFECT_HOME="$work/prefect" PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_LOGGING_LEVEL=WARNING
export PREFECT_API_URL=http://127.0.0.1:4299/api
export NIGHTCAST_OUTPUTS_DIR="$work/outputs"
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
export NIGHTCAST_API_TOKENS="$token"

step() { printf '\n== %s\n' "$*"; }
wait_for() { for _ in $(seq 1 "$2"); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 1; done; echo "timed out: $1" >&2; exit 1; }

step "prefect server start (UI and API on :4299)"
# leases on the render and gpu slots in files: a server restart mid-night leaks no slot (README)
PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=prefect.server.concurrency.lease_storage.filesystem \
  $bin/prefect server start --host 127.0.0.1 --port 4299 >"$work/server.log" 2>&1 & pids+=($!)
wait_for http://127.0.0.1:4299/api/health 120

step "nightcast deploy --serve"
$bin/nightcast deploy --serve >"$work/serve.log" 2>&1 & pids+=($!)
# (`prefect deployment ls` is broken in prefect 3.8.8: its client sends limit=null, the server answers 422)
for name in render-episode/render-episode nightly/nightly speech-stage/gpu music-stage/gpu batch-heavy-stages/gpu; do
  for _ in $(seq 1 120); do $bin/prefect deployment inspect "$name" >/dev/null 2>&1 && break; sleep 1; done
  $bin/prefect deployment inspect "$name" >/dev/null && echo "deployment $name"
done

step "the nightly schedule"
$bin/prefect deployment inspect nightly/nightly | grep -E "cron|timezone"

step "a render-episode run started as the UI starts one"
$bin/prefect deployment run render-episode/render-episode --param listener=maya --param template=nightly-digest --watch \
  | tail -3
ls -l "$NIGHTCAST_OUTPUTS_DIR"/maya/*/episode.mp3

step "nightcast serve, then curl with a token"
$bin/nightcast serve --host 127.0.0.1 --port 8089 >"$work/api.log" 2>&1 & pids+=($!)
wait_for http://127.0.0.1:8089/docs 60
auth="Authorization: Bearer $token"
run=$(curl -fs -H "$auth" -H 'Content-Type: application/json' -d '{"listener": "hiro", "template": "nightly-digest"}' \
      http://127.0.0.1:8089/v1/renders | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "render $run"
for _ in $(seq 1 600); do
  status=$(curl -fs -H "$auth" "http://127.0.0.1:8089/v1/renders/$run")
  state=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["state"])' "$status")
  [ "$state" = COMPLETED ] && break
  case "$state" in FAILED|CRASHED|CANCELLED) echo "$status" >&2; exit 1 ;; esac
  sleep 2
done
audio=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["episode"]["audio"])' "$status")
curl -fs -H "$auth" -o "$work/episode.mp3" "http://127.0.0.1:8089$audio"
$bin/python -c "import mutagen, sys; f = mutagen.File(sys.argv[1]); print(f'downloaded: {f.info.length:.0f} s of audio')" "$work/episode.mp3"
curl -fs -H "$auth" http://127.0.0.1:8089/v1/listeners/hiro/feed.xml | grep -c "<item>" | sed 's/^/feed items: /'
step "walkthrough passed"
