#!/usr/bin/env bash
# Check the Kubernetes manifests with `podman kube play` on this machine: they parse, and every
# Deployment's pod starts from the local images (make image). Podman has no Services, so the
# Secret and ConfigMap used here point at the pods' names (postgres-pod-0, ...) instead of the
# Service names a cluster resolves; the manifests themselves are played unchanged otherwise.
#
#   deploy/kube-check.sh [SECONDS]   waits that long for /api/ready (default 240), then tears down
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/containers.conf}
WAIT=${1:-240}
WORK=build/k8s
NETWORK=deepverify-kube
mkdir -p "$WORK" && chmod 700 "$WORK"
umask 077
# podman 4.3 reads a Secret's keys from a podman secret holding a JSON map of base64 values.
python3 - "$WORK/secret.json" <<'PY'
import base64, json, secrets, sys
pg, redis = secrets.token_hex(24), secrets.token_hex(24)
values = {
    "secret-key": secrets.token_hex(24),
    "database-url": f"postgresql+psycopg://postgres:{pg}@postgres-pod-0:5432/deepverify",
    "broker-url": f"redis://:{redis}@redis-pod-0:6379/0",
    "s3-access-key-id": secrets.token_hex(12),
    "s3-secret-access-key": secrets.token_hex(24),
    "postgres-password": pg,
    "redis-password": redis,
}
with open(sys.argv[1], "w") as out:
    json.dump({k: base64.b64encode(v.encode()).decode() for k, v in values.items()}, out)
PY
sed 's|http://seaweedfs:8333|http://seaweedfs-pod-0:8333|' deploy/k8s/config.yaml >"$WORK/config.yaml"
# One stream: podman 4.3 plays a single file; the ConfigMap comes first, so the pods find it.
{ cat "$WORK/config.yaml"; for f in backing api worker; do echo '---'; cat "deploy/k8s/$f.yaml"; done; } \
  >"$WORK/all.yaml"

cleanup() {
  podman kube down "$WORK/all.yaml" >/dev/null 2>&1 || true
  podman secret rm deepverify >/dev/null 2>&1 || true
  podman volume rm -f deepverify-postgres-data deepverify-redis-data deepverify-seaweedfs-data \
    >/dev/null 2>&1 || true
  podman network rm "$NETWORK" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
podman network exists "$NETWORK" || podman network create "$NETWORK" >/dev/null
podman secret create deepverify "$WORK/secret.json" >/dev/null
started=$SECONDS
podman kube play --network "$NETWORK" "$WORK/all.yaml"
podman pod ps --format '{{.Name}} {{.Status}}'
api=$(podman ps --filter pod=deepverify-api-pod-0 --format '{{.Names}}' | grep -v infra | head -1)
ready=""
while [ $((SECONDS - started)) -lt "$WAIT" ]; do
  if podman exec "$api" python -c \
    "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/api/ready', timeout=3)" \
    >/dev/null 2>&1; then
    ready=yes; break
  fi
  sleep 3
done
podman ps --format '{{.Names}} {{.Status}}'
podman exec "$api" python -c "import urllib.request as u, urllib.error as e
try: print(u.urlopen('http://127.0.0.1:8000/api/ready', timeout=3).read().decode())
except e.HTTPError as x: print(x.code, x.read().decode())" || true
[ -n "$ready" ] || { echo "kube-check: /api/ready not ready after ${WAIT} s" >&2; exit 1; }
echo "kube-check: every pod started; /api/ready ready after $((SECONDS - started)) s"
