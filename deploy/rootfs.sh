#!/usr/bin/env bash
# Build the base image every deepverify container starts from, without any registry: a Debian
# bookworm root filesystem made by mmdebstrap from the machine's configured apt sources, imported
# with podman. Python 3.11 is bookworm's python3.
#
# Usage: deploy/rootfs.sh [IMAGE]   (default localhost/deepverify-base:bookworm)
set -euo pipefail
IMAGE=${1:-localhost/deepverify-base:bookworm}
SOURCES=${DEEPVERIFY_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}
[ -r "$SOURCES" ] || { echo "rootfs.sh: apt sources file $SOURCES not found (set DEEPVERIFY_APT_SOURCES)" >&2; exit 2; }
command -v mmdebstrap >/dev/null || { echo "rootfs.sh: mmdebstrap is missing (apt-get install mmdebstrap)" >&2; exit 2; }

# Documentation, manual pages and translations are left out: nothing in a container reads them.
# mmdebstrap installs usrmerge (and with it a full Perl, 47 MB) to merge /usr; once merged,
# usr-is-merged stands in for it and both go.
mmdebstrap --variant=minbase --quiet \
  --include=python3,python3-venv,ca-certificates,tini,usr-is-merged \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --aptopt='APT::Install-Recommends "false"' \
  --customize-hook='chroot "$1" apt-get purge -y -qq usrmerge perl libperl5.36 perl-modules-5.36 \
    libfile-find-rule-perl libnumber-compare-perl libtext-glob-perl >/dev/null' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  --format=tar bookworm - "$SOURCES" |
  podman import --change 'CMD ["/bin/bash"]' \
    --message "deepverify base: Debian bookworm minbase + python3 (mmdebstrap)" - "$IMAGE"
podman image inspect --format '{{.Id}} {{.Size}}' "$IMAGE"
