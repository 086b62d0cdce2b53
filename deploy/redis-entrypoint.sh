#!/bin/sh
# Redis for the local stack: the Celery broker, password from REDIS_PASSWORD, append-only file
# under /var/lib/redis so queued jobs survive a restart.
set -eu
: "${REDIS_PASSWORD:?REDIS_PASSWORD must be set}"
exec redis-server --bind 0.0.0.0 --port 6379 --protected-mode no --dir /var/lib/redis \
  --appendonly yes --save '' --requirepass "$REDIS_PASSWORD" "$@"
