#!/usr/bin/env bash
# Run N replicas of the app behind nginx on this machine, in the foreground; Ctrl-C stops all.
#
#   CHATBOT_DATABASE_URL=postgresql://chatbot@127.0.0.1/chatbot deploy/run.sh 2
#
# Replicas listen on 127.0.0.1:8001.. (BASE_PORT), nginx on LISTEN (default 127.0.0.1:8080).
# Every replica must share one database: set CHATBOT_DATABASE_URL (SQLite is for one process).
# Other CHATBOT_* settings (admin secret hash, retention, ...) are passed on to each replica.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2}
BASE_PORT=${BASE_PORT:-8001}
LISTEN=${LISTEN:-127.0.0.1:8080}
PREFIX=${PREFIX:-$PWD/deploy/run}
PYTHON=${PYTHON:-.venv/bin/python}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -n "${CHATBOT_DATABASE_URL:-}" ] || { echo "set CHATBOT_DATABASE_URL to the PostgreSQL every replica shares" >&2; exit 2; }

mkdir -p "$PREFIX"
.venv/bin/chatbot index build --if-stale        # once, before the replicas read it
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait || true; }
trap stop EXIT INT TERM
replicas=()
for i in $(seq 0 $((N - 1))); do
    port=$((BASE_PORT + i))
    CHATBOT_TRUST_PROXY_HEADERS=true "$PYTHON" app.py --host 127.0.0.1 --port "$port" >"$PREFIX/replica-$port.log" 2>&1 &
    pids+=($!)
    replicas+=(--replica "127.0.0.1:$port")
done
for i in $(seq 0 $((N - 1))); do
    port=$((BASE_PORT + i))
    until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
        kill -0 "${pids[$i]}" 2>/dev/null || { echo "replica on port $port exited; see $PREFIX/replica-$port.log" >&2; exit 1; }
        sleep 0.5
    done
    echo "replica on 127.0.0.1:$port is up"
done
"$PYTHON" deploy/render.py "${replicas[@]}" --listen "$LISTEN" --prefix "$PREFIX" >"$PREFIX/nginx.conf"
"$NGINX" -t -p "$PREFIX" -c "$PREFIX/nginx.conf" -q
echo "nginx on http://$LISTEN"
"$NGINX" -p "$PREFIX" -c "$PREFIX/nginx.conf" &
pids+=($!)
wait -n
