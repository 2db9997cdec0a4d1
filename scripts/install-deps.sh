#!/bin/sh
# Install every build and test dependency of smppbridge from Debian's packages.
#
# Idempotent: when every package is already installed it does nothing and
# touches no package list. Runs as root, or through sudo when not root.
# Used by `make`, `make test`, `make run` and the Dockerfile's build stage.
#
#   scripts/install-deps.sh                 build + test dependencies
#   scripts/install-deps.sh --runtime FILE  only what the binaries need to
#       run: the packages listed in FILE (one a line), which `make install`
#       writes as share/smppbridge/runtime-packages from what the built
#       binaries link (scripts/runtime-deps.sh), plus the image's own tools
set -eu

BUILD_PKGS="build-essential make pkg-config clang libclang-rt-dev
libevent-dev libssl-dev libhiredis-dev libcriterion-dev
redis-server redis-tools libsmpp34-dev tshark libnet-smpp-perl
ca-certificates openssl jq
curl prometheus bc"
# curl and prometheus (for promtool) only serve tests/integration/test_admin.sh;
# bc, load/bench.sh's arithmetic.
# The runtime image's own tools: CA certificates for TLS upstreams, curl
# for its HEALTHCHECK.
RUNTIME_TOOLS="ca-certificates curl"

pkgs=$BUILD_PKGS
if [ "${1:-}" = "--runtime" ]; then
    list=${2:-}
    [ -n "$list" ] && [ -r "$list" ] || {
        echo "install-deps: --runtime needs the runtime-packages file that make install writes" >&2
        exit 2
    }
    pkgs="$(cat "$list") $RUNTIME_TOOLS"
fi

missing=""
for p in $pkgs; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case "$status" in
        ii*) ;;
        *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "install-deps: not root and no sudo; install as root:$missing" >&2
        exit 1
    }
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no, without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
    $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done" >&2
