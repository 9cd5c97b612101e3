#!/usr/bin/env bash
# `make run`: the whole portal on one laptop. Starts kubesim (the demo cluster),
# connects the portal to it with a least-privilege ServiceAccount token — the
# same steps an admin takes for a real cluster — migrates, seeds demo users,
# then runs the web server (and a Celery worker + beat when REDIS_URL or
# CELERY_BROKER_URL is set). Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=.venv/bin/python
KUBECTL=$(command -v kubectl || echo .venv/bin/kubectl)
VAR=var
STATE=$VAR/kubesim
PORTAL_PORT=${PORTAL_PORT:-8000}
KUBESIM_PORT=${KUBESIM_PORT:-6443}
mkdir -p "$VAR"
export DEBUG=${DEBUG:-true}

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "Stopping…"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if port_open "$KUBESIM_PORT"; then KUBESIM_PORT=0; fi

echo "Starting kubesim (demo cluster), state in $STATE …"
: > "$VAR/kubesim.log"
"$PY" -m kubesim serve --port "$KUBESIM_PORT" --state-dir "$STATE" >> "$VAR/kubesim.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  url=$(grep -o 'https://[^ ]*' "$VAR/kubesim.log" | head -n 1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "${url:-}" ] || { echo "kubesim did not start; see $VAR/kubesim.log" >&2; cat "$VAR/kubesim.log" >&2; exit 1; }
ADMIN_KUBECONFIG=$STATE/admin.kubeconfig

echo "Creating the portal's ServiceAccount and least-privilege RBAC on the demo cluster …"
"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" apply -f deploy/kubernetes/cluster-rbac/portal-rbac.yaml >/dev/null
token=$("$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n platform-portal create token portal --duration=8760h)
PORTAL_KUBECONFIG=$VAR/portal.kubeconfig
rm -f "$PORTAL_KUBECONFIG"
"$KUBECTL" config --kubeconfig "$PORTAL_KUBECONFIG" set-cluster demo --server "$url" \
  --certificate-authority "$STATE/ca.crt" --embed-certs=true >/dev/null
"$KUBECTL" config --kubeconfig "$PORTAL_KUBECONFIG" set-credentials portal --token "$token" >/dev/null
"$KUBECTL" config --kubeconfig "$PORTAL_KUBECONFIG" set-context demo --cluster demo --user portal >/dev/null
"$KUBECTL" config --kubeconfig "$PORTAL_KUBECONFIG" use-context demo >/dev/null

"$PY" manage.py migrate --noinput >/dev/null
"$PY" manage.py add_cluster demo --kubeconfig "$PORTAL_KUBECONFIG"
"$PY" manage.py seed_demo

if [ -n "${CELERY_BROKER_URL:-${REDIS_URL:-}}" ]; then
  echo "Starting the Celery worker and beat (broker ${CELERY_BROKER_URL:-$REDIS_URL}) …"
  # Both queues, interactive first (with beat); plus one process for the interactive queue only,
  # so an approval never waits for a fleet pass that is already running.
  "$PY" -m celery -A portal worker -n all@%h -Q portal,portal-background -B --schedule "$VAR/celerybeat-schedule" -l INFO --concurrency 2 > "$VAR/celery.log" 2>&1 &
  pids+=($!)
  "$PY" -m celery -A portal worker -n interactive@%h -Q portal -l INFO --concurrency 1 > "$VAR/celery-interactive.log" 2>&1 &
  pids+=($!)
  tasks="Celery workers (logs: $VAR/celery.log, $VAR/celery-interactive.log)"
else
  tasks="in-process tasks (set REDIS_URL=redis://127.0.0.1:6379/0 for a real Celery worker)"
fi

cat <<MSG

  Portal:        http://127.0.0.1:$PORTAL_PORT/   (API docs: http://127.0.0.1:$PORTAL_PORT/api/docs/)
  Log in as:     alice (developer), bob (manager of payments) or carol (platform admin) — passwords above
  Demo cluster:  kubesim at $url
                 kubectl --kubeconfig $ADMIN_KUBECONFIG get namespaces
  Background:    $tasks
  Stop:          Ctrl-C

MSG
"$PY" manage.py runserver "127.0.0.1:$PORTAL_PORT" --noreload &
pids+=($!)
wait -n "${pids[@]}"
