#!/usr/bin/env bash
# Build deepverify's images with podman, pulling from no registry (`make image` runs this).
#
#   deploy/build.sh [--missing] [TARGET...]
#
# TARGETs of deploy/Containerfile, default all: app seaweedfs postgres redis; --missing builds only
# those whose image is not there yet.
#
# The base image comes from deploy/rootfs.sh (built when missing). The app image installs a wheel
# of the committed tree (git HEAD) with the web UI that `make install` built, under the versions in
# the project's virtual environment (constraints.txt), and the face detector weights of
# DEEPVERIFY_DETECTOR_DIR. Prints each image's size and build time.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/containers.conf}
BASE=${DEEPVERIFY_BASE_IMAGE:-localhost/deepverify-base:bookworm}
PREFIX=${DEEPVERIFY_IMAGE_PREFIX:-localhost/deepverify}
TAG=${DEEPVERIFY_IMAGE_TAG:-latest}
CA=${DEEPVERIFY_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
DETECTORS=${DEEPVERIFY_DETECTOR_DIR:-}
STATIC=src/deepverify/service/static
OUT=build/image
MISSING=0; [ "${1:-}" = --missing ] && { MISSING=1; shift; }
TARGETS=("$@"); [ ${#TARGETS[@]} -gt 0 ] || TARGETS=(app seaweedfs postgres redis)

die() { echo "build.sh: $*" >&2; exit 2; }
image_of() { if [ "$1" = app ]; then echo "$PREFIX:$TAG"; else echo "$PREFIX-$1:$TAG"; fi; }
if [ $MISSING = 1 ]; then
  wanted=(); for t in "${TARGETS[@]}"; do podman image exists "$(image_of "$t")" || wanted+=("$t"); done
  TARGETS=("${wanted[@]}"); [ ${#TARGETS[@]} -gt 0 ] || exit 0
fi
podman image exists "$BASE" || deploy/rootfs.sh "$BASE"

if [[ " ${TARGETS[*]} " == *" app "* ]]; then
  [ -f "$STATIC/index.html" ] || die "the web UI is not built: run make install first"
  [ -n "$DETECTORS" ] && [ -d "$DETECTORS" ] ||
    die "DEEPVERIFY_DETECTOR_DIR must name a local folder with the face detector weights"
  rm -rf "$OUT" && mkdir -p "$OUT/src" "$OUT/dist"
  git archive HEAD | tar -x -C "$OUT/src"
  cp -R "$STATIC" "$OUT/src/$STATIC"
  .venv/bin/python -m pip wheel --quiet --no-deps --no-build-isolation -w "$OUT/dist" "$OUT/src"
  # The versions the project is tested with; packages installed from local paths are left out.
  .venv/bin/python -m pip freeze --exclude-editable | grep -v -e ' @ ' -e '^-e' >"$OUT/dist/constraints.txt"
fi

CA_MOUNT=(); [ -f "$CA" ] && CA_MOUNT=(-v "$CA:/etc/ssl/certs/ca-certificates.crt:ro")
for target in "${TARGETS[@]}"; do
  image=$(image_of "$target")
  contexts=(); [ "$target" = app ] &&
    contexts=(--build-context "dist=$OUT/dist" --build-context "detectors=$DETECTORS")
  started=$(date +%s)
  podman build --quiet --format docker -f deploy/Containerfile --target "$target" \
    --build-arg "BASE=$BASE" "${CA_MOUNT[@]}" "${contexts[@]}" \
    --label "org.opencontainers.image.revision=$(git rev-parse HEAD)" \
    -t "$image" deploy >/dev/null
  size=$(podman image inspect --format '{{.Size}}' "$image")
  echo "$image  $((size / 1000000)) MB  built in $(($(date +%s) - started)) s"
done
