#!/usr/bin/env bash
# Start, stop or smoke-test the composed stack (deploy/compose.yaml) with podman-compose.
#
#   deploy/stack.sh up      write missing secrets under build/stack, start the services in order,
#                           wait until /api/ready says ready; prints the start time
#   deploy/stack.sh down [--volumes]
#                           stop and remove the containers (and with --volumes the data)
#   deploy/stack.sh test    upload -> verdict through the running stack (deploy/stack_test.py)
#
# The API listens on 127.0.0.1:${DEEPVERIFY_STACK_PORT:-8080}.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/containers.conf}
PROJECT=deepverify
SECRETS=build/stack
PORT=${DEEPVERIFY_STACK_PORT:-8080}
COMPOSE=(podman-compose --no-ansi -p "$PROJECT" -f deploy/compose.yaml)
TIMEOUT=${DEEPVERIFY_STACK_TIMEOUT:-300}

die() { echo "stack.sh: $*" >&2; exit 2; }
token() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }

write_secrets() {
  mkdir -p "$SECRETS" && chmod 700 "$SECRETS"
  [ -f "$SECRETS/app.env" ] && return
  local pg redis key access secret
  pg=$(token); redis=$(token); key=$(token); access=$(token); secret=$(token)
  umask 077
  printf 'POSTGRES_PASSWORD=%s\nPOSTGRES_DB=deepverify\n' "$pg" >"$SECRETS/postgres.env"
  printf 'REDIS_PASSWORD=%s\n' "$redis" >"$SECRETS/redis.env"
  cat >"$SECRETS/app.env" <<ENV
DEEPVERIFY_SECRET_KEY=$key
DEEPVERIFY_DATABASE_URL=postgresql+psycopg://postgres:$pg@postgres:5432/deepverify
DEEPVERIFY_BROKER_URL=redis://:$redis@redis:6379/0
AWS_ACCESS_KEY_ID=$access
AWS_SECRET_ACCESS_KEY=$secret
ENV
  cat >"$SECRETS/s3.json" <<JSON
{"identities": [{"name": "deepverify",
  "credentials": [{"accessKey": "$access", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
  chmod 644 "$SECRETS/s3.json"  # read by the seaweedfs user inside its container only
}

# Wait until the container's HEALTHCHECK passes.
wait_healthy() {
  local name=${PROJECT}_$1_1 deadline=$((SECONDS + TIMEOUT))
  until podman healthcheck run "$name" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$1 is not healthy after ${TIMEOUT} s (podman logs $name)"
    sleep 2
  done
}

wait_url() {
  local deadline=$((SECONDS + TIMEOUT))
  until python3 -c "import urllib.request as u; u.urlopen('$1', timeout=3)" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "$1 does not answer 200 after ${TIMEOUT} s"
    sleep 2
  done
}

up() {
  for image in deepverify deepverify-postgres deepverify-redis deepverify-seaweedfs; do
    podman image exists "localhost/$image:${DEEPVERIFY_IMAGE_TAG:-latest}" ||
      die "image localhost/$image is missing: run make image"
  done
  write_secrets
  local started=$SECONDS
  # In order, so that one process (the API) applies the database migrations before the workers.
  # podman-compose 1.0.3 tries to create a service's dependencies again and complains that their
  # names are taken: its output goes to a log, the waits below say what failed.
  local log=$SECRETS/compose.log
  "${COMPOSE[@]}" up -d postgres redis seaweedfs >"$log" 2>&1
  for service in postgres redis seaweedfs; do wait_healthy "$service"; done
  "${COMPOSE[@]}" up -d api >>"$log" 2>&1
  wait_url "http://127.0.0.1:$PORT/api/health"
  "${COMPOSE[@]}" up -d worker-1 worker-2 >>"$log" 2>&1
  wait_url "http://127.0.0.1:$PORT/api/ready"
  echo "stack ready on http://127.0.0.1:$PORT in $((SECONDS - started)) s"
}

# podman-compose 1.0.3 stops at the first container that is missing; what it leaves is removed
# by the project's label.
down() {
  "${COMPOSE[@]}" down >/dev/null 2>&1 || true
  local label=label=io.podman.compose.project=$PROJECT
  podman ps -a -q --filter "$label" | xargs -r podman rm -f >/dev/null
  podman network rm "${PROJECT}_default" >/dev/null 2>&1 || true
  if [ "${1:-}" = --volumes ]; then
    podman volume ls -q --filter "$label" | xargs -r podman volume rm >/dev/null
  fi
  echo "stack stopped"
}

case ${1:-} in
  up) up ;;
  down) shift; down "$@" ;;
  test) .venv/bin/python deploy/stack_test.py --url "http://127.0.0.1:$PORT" --project "$PROJECT" ;;
  *) die "usage: stack.sh up|down|test" ;;
esac
