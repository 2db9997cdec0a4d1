#!/usr/bin/env bash
# fresh-check: what a new user and the container image see, on Debian 12
# roots that start with nothing installed.
#
#   scripts/fresh-check.sh [--rev REV] [--skip-test] [--keep]
#   make fresh-check
#
# Each part gets a root of its own, copied from one debootstrap
# (--variant=minbase, plus make and git: what a user needs to clone and
# type the README's commands), with a clean clone of REV (default HEAD)
# of this repository:
#
#   1. `make run`, then the README's own smpp-load example with receipts
#      against the stack it started, then the stack is stopped;
#   2. `make test` (skipped with --skip-test);
#   3. the Dockerfile replayed: each stage in a fresh root, its WORKDIR,
#      COPY and RUN lines carried out in order. The build stage's
#      `make test` runs as `make`: part 2 ran the same tests on the same
#      clone. Then, in the runtime root: every installed binary resolves
#      all its libraries (ldd), `smppbridge --check` accepts the example
#      configuration, and the bridge, run as the image's USER against a
#      Redis and an smsc-sim from the build root, answers /healthz and
#      becomes ready.
#
# One line per part with its result; exit 1 if any failed. Every mount
# and the temporary directory are removed on any exit (--keep keeps the
# directory, without its mounts, and says where). Needs root (debootstrap,
# chroot, mount). The Debian mirror is the one this machine's apt uses
# (FRESH_MIRROR overrides it); nothing else is fetched.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
REV=HEAD
RUN_TEST=yes
KEEP=no
while [ $# -gt 0 ]; do
    case $1 in
        --rev) REV=$2; shift 2 ;;
        --skip-test) RUN_TEST=no; shift ;;
        --keep) KEEP=yes; shift ;;
        -h|--help) sed -n '2,/^set /p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [--rev REV] [--skip-test] [--keep]" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "fresh-check: needs root (debootstrap, chroot and mount); run it as root" >&2
    exit 2
fi
COMMIT=$(git -C "$SRC" rev-parse --verify "$REV^{commit}") || exit 2
SUITE=bookworm
ROOTPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
TOP=$(mktemp -d /var/tmp/smppbridge-fresh.XXXXXX)
LOGS=$TOP/logs
mkdir -p "$LOGS"
STARTED=()  # PIDs (process group leaders) this script started
FAILED=0
T0=$(date +%s)

cleanup() {
    local p r
    for p in "${STARTED[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
    for p in "${STARTED[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$p" 2>/dev/null
    done
    for r in "$TOP"/*/; do
        [ -d "$r/proc" ] || continue
        umount -R "$r/dev" "$r/proc" "$r/sys" 2>/dev/null
        umount -R -l "$r/dev" "$r/proc" "$r/sys" 2>/dev/null
    done
    if [ "$FAILED" -ne 0 ] && [ "$KEEP" != yes ]; then
        # the roots go, the logs of a failed run stay for reading
        local kept
        kept=$(mktemp -d /var/tmp/smppbridge-fresh-logs.XXXXXX)
        cp -a "$LOGS/." "$kept/" && echo "fresh-check: logs kept in $kept"
    fi
    if [ "$KEEP" = yes ]; then
        echo "fresh-check: kept $TOP"
    elif ! grep -qs " $TOP/" /proc/mounts; then
        rm -rf "$TOP"
    else
        echo "fresh-check: $TOP still has mounts; left in place" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# result NAME STATUS [DETAIL]: one line per part.
result() {
    local verdict=ok
    [ "$2" -eq 0 ] || { verdict=FAILED; FAILED=1; }
    printf 'fresh-check: %-58s %s%s\n' "$1" "$verdict" "${3:+ ($3)}"
}

# The mirror this machine's apt uses for Debian itself.
mirror() {
    [ -n "${FRESH_MIRROR:-}" ] && { echo "$FRESH_MIRROR"; return; }
    local m
    m=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
    [ -z "$m" ] && m=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
    echo "$m"
}

free_port() {
    perl -MIO::Socket::INET -e \
        'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport'
}

# root_argv ROOT [--user U] COMMAND...: the command line that runs COMMAND
# in ROOT with a clean environment, in the array ARGV.
root_argv() {
    local root=$1 spec=()
    shift
    if [ "${1:-}" = --user ]; then spec=(--userspec="$2"); shift 2; fi
    ARGV=(env -i HOME=/root PATH=$ROOTPATH LANG=C.UTF-8 TERM=dumb
          chroot "${spec[@]}" "$root" "$@")
}

# in_root ROOT [--user U] COMMAND...: run it (see root_argv).
in_root() { root_argv "$@"; "${ARGV[@]}"; }

# new_root NAME: a copy of the template with /dev, /proc and /sys mounted.
new_root() {
    local r=$TOP/$1
    cp -a "$TOP/template" "$r"
    mount --rbind /dev "$r/dev" && mount --make-rslave "$r/dev"
    mount -t proc proc "$r/proc"
    mount -t sysfs sys "$r/sys"
    cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null
    echo "$r"
}

# clone_into ROOT: a clean clone of COMMIT at ROOT/src/smppbridge.
clone_into() {
    git clone -q --no-local "$SRC" "$1/src/smppbridge" &&
        git -C "$1/src/smppbridge" checkout -q "$COMMIT"
}

# start_bg LOG ROOT [--user U] COMMAND...: COMMAND in ROOT, in the
# background in a process group of its own; its PID in BG.
start_bg() {
    local log=$1
    shift
    root_argv "$@"
    setsid "${ARGV[@]}" >"$log" 2>&1 &
    BG=$!
    STARTED+=("$BG")
}

# wait_for SECONDS COMMAND...: 0 once COMMAND succeeds.
wait_for() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 10; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

stop_bg() { kill -TERM -- "-$1" 2>/dev/null; wait_for 20 eval "! kill -0 $1 2>/dev/null"; }

# ---- the template root
command -v debootstrap >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; } ||
    { echo "fresh-check: cannot install debootstrap" >&2; exit 1; }
MIRROR=$(mirror)
[ -n "$MIRROR" ] || { echo "fresh-check: no Debian mirror in apt's sources; set FRESH_MIRROR" >&2; exit 1; }
echo "fresh-check: $COMMIT, Debian 12 roots in $TOP, logs in $LOGS"
t=$(date +%s)
debootstrap --variant=minbase --include=make,git "$SUITE" "$TOP/template" "$MIRROR" \
    >"$LOGS/debootstrap.log" 2>&1
rc=$?
# What every Debian machine has and debootstrap leaves to the installer:
# a hosts file that names the loopback addresses.
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
    >"$TOP/template/etc/hosts"
# Packages' maintainer scripts start no daemons in the roots (as in
# Debian's container images): every process here is one this script started.
printf '#!/bin/sh\nexit 101\n' >"$TOP/template/usr/sbin/policy-rc.d" 2>/dev/null &&
    chmod 0755 "$TOP/template/usr/sbin/policy-rc.d"
# The same package sources as this machine's apt (updates and security).
if [ $rc -eq 0 ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
    rm -f "$TOP/template/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/debian.sources "$TOP/template/etc/apt/sources.list.d/"
fi
result "debootstrap $SUITE minbase + make, git" $rc "$(($(date +%s) - t)) s"
[ $rc -eq 0 ] || exit 1

# ---- 1. make run, then the README's smpp-load example
part_run() {
    local r smpp sim admin redis load
    r=$(new_root run) && clone_into "$r" || return 1
    smpp=$(free_port) sim=$(free_port) admin=$(free_port) redis=$(free_port)
    start_bg "$LOGS/make-run.log" "$r" sh -c "cd /src/smppbridge && exec make run SMPP_PORT=$smpp SIM_PORT=$sim ADMIN_PORT=$admin REDIS_PORT=$redis"
    local pid=$BG
    # install, build, start: bounded at 15 minutes
    wait_for 900 eval "grep -qs 'Ctrl-C stops' '$LOGS/make-run.log' || ! kill -0 $pid 2>/dev/null"
    if ! grep -qs 'Ctrl-C stops' "$LOGS/make-run.log"; then
        echo "---- make run did not come up; last lines of $LOGS/make-run.log:"
        tail -8 "$LOGS/make-run.log"
        stop_bg "$pid"
        return 1
    fi
    # The README's example, as written there, on this run's port.
    load=$(awk '/^build\/bin\/smpp-load/ { cmd = $0; while (cmd ~ /\\$/ && (getline l) > 0) { sub(/\\$/, "", cmd); cmd = cmd " " l } print cmd; exit }' \
        "$r/src/smppbridge/README.md" | sed "s/--port 2775/--port $smpp/")
    [ -n "$load" ] || { echo "---- no smpp-load example in README.md"; stop_bg "$pid"; return 1; }
    echo "README example: $load" >"$LOGS/readme-load.log"
    in_root "$r" sh -c "cd /src/smppbridge && timeout 120 $load" >>"$LOGS/readme-load.log" 2>&1
    local lrc=$?
    grep -E "^(final states|result)" "$LOGS/readme-load.log" | sed 's/^/    /'
    stop_bg "$pid"
    return $lrc
}
t=$(date +%s)
part_run
result "make run + README smpp-load --dlr example" $? "$(($(date +%s) - t)) s, log $LOGS/make-run.log"

# ---- 2. make test
if [ "$RUN_TEST" = yes ]; then
    t=$(date +%s)
    r=$(new_root test) && clone_into "$r" &&
        in_root "$r" sh -c "cd /src/smppbridge && make test" >"$LOGS/make-test.log" 2>&1
    rc=$?
    result "make test" $rc "$(($(date +%s) - t)) s: $(grep -a '^tests:' "$LOGS/make-test.log" | tail -1)"
    [ $rc -eq 0 ] || grep -a -e 'not ok' -e FAIL -e Error "$LOGS/make-test.log" | head -10 | sed 's/^/    /'
else
    printf 'fresh-check: %-58s %s\n' "make test" "skipped (--skip-test)"
fi

# ---- 3. the Dockerfile, stage by stage
declare -A STAGE_ROOT
STAGE_USER=""
# replay_dockerfile: every stage's WORKDIR, COPY and RUN, in order; the
# last stage's root in RUNTIME, its USER in STAGE_USER.
replay_dockerfile() {
    local ctx=$TOP/context root="" name="" workdir=/ line ins args from stage src dest
    clone_into "$TOP/ctxroot" && mv "$TOP/ctxroot/src/smppbridge" "$ctx" || return 1
    # logical lines: continuations joined, comments dropped
    while IFS= read -r line; do
        ins=${line%% *}
        args=${line#* }
        case ${ins^^} in
            FROM)
                name=${args##* [Aa][Ss] }
                root=$(new_root "stage-$name") || return 1
                STAGE_ROOT[$name]=$root
                workdir=/ STAGE_USER=""
                echo "== stage $name ($args)" ;;
            WORKDIR)
                workdir=$args
                mkdir -p "$root$workdir" ;;
            COPY)
                from=$ctx
                if [[ $args == --from=* ]]; then
                    stage=${args%% *}
                    from=${STAGE_ROOT[${stage#--from=}]}
                    args=${args#* }
                fi
                src=${args% *} dest=${args##* }
                [[ $dest == /* ]] || dest=$workdir/$dest
                [[ $src == /* ]] && src=${src#/}
                echo "COPY $from/$src -> $root$dest"
                if [ -d "$from/$src" ]; then
                    mkdir -p "$root$dest" && cp -a "$from/$src/." "$root$dest/"
                else
                    mkdir -p "$root$(dirname "$dest")" && cp -a "$from/$src" "$root$dest"
                fi || return 1 ;;
            RUN)
                # part 2 ran `make test` on this clone already
                args=${args//make test/make}
                echo "RUN $args"
                in_root "$root" sh -c "cd $workdir && $args" || return 1 ;;
            USER)
                STAGE_USER=$args ;;
        esac
    done < <(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$ctx/Dockerfile" | grep -v '^\s*#' | grep -v '^\s*$' |
             sed 's/[[:space:]]\+/ /g')
    RUNTIME=$root
}
t=$(date +%s)
replay_dockerfile >"$LOGS/dockerfile.log" 2>&1
rc=$?
result "Dockerfile: build and runtime stages" $rc "$(($(date +%s) - t)) s, log $LOGS/dockerfile.log"
[ $rc -eq 0 ] || { tail -8 "$LOGS/dockerfile.log" | sed 's/^/    /'; exit 1; }
BUILDROOT=${STAGE_ROOT[build]}

# every installed binary resolves its libraries
missing=$(for b in "$RUNTIME"/usr/local/bin/*; do
    in_root "$RUNTIME" ldd "/usr/local/bin/${b##*/}" 2>&1 | grep "not found" | sed "s|^|${b##*/}: |"
done)
[ -z "$missing" ]
result "runtime image: ldd of every installed binary" $? "${missing:+$(echo $missing)}"
if [ -n "$missing" ]; then echo "$missing" | sed 's/^/    /'; fi

in_root "$RUNTIME" smppbridge -c /etc/smppbridge/smppbridge.conf --check >"$LOGS/check.log" 2>&1
rc=$?
result "runtime image: smppbridge --check of the example config" $rc "$(tail -1 "$LOGS/check.log")"

# the bridge as the image runs it, against Redis and smsc-sim from the build root
runtime_up() {
    local smpp sim admin redis
    smpp=$(free_port) sim=$(free_port) admin=$(free_port) redis=$(free_port)
    start_bg "$LOGS/rt-redis.log" "$BUILDROOT" redis-server --bind 127.0.0.1 --port "$redis" --save "" --appendonly no
    start_bg "$LOGS/rt-sim.log" "$BUILDROOT" /src/build/bin/smsc-sim --listen "127.0.0.1:$sim" \
        --system-id smppbridge --password simpass --quiet
    "$SRC/scripts/local-conf.sh" "$smpp" "$sim" "$admin" "$redis" "$RUNTIME/etc/smppbridge/smppbridge.conf" \
        >"$RUNTIME/tmp/fresh.conf" && chmod 0644 "$RUNTIME/tmp/fresh.conf"
    start_bg "$LOGS/rt-bridge.log" "$RUNTIME" ${STAGE_USER:+--user "$STAGE_USER"} \
        smppbridge -c /tmp/fresh.conf
    local url="http://127.0.0.1:$admin"
    wait_for 30 in_root "$RUNTIME" curl -fsS -o /dev/null --max-time 1 "$url/healthz" || return 1
    echo "healthz: 200"
    wait_for 30 in_root "$RUNTIME" curl -fsS -o /dev/null --max-time 1 "$url/readyz" || return 1
    echo "readyz: 200"
}
t=$(date +%s)
runtime_up >"$LOGS/runtime-up.log" 2>&1
rc=$?
result "runtime image: bridge as ${STAGE_USER:-root} answers /healthz, /readyz" $rc \
    "$(($(date +%s) - t)) s"
[ $rc -eq 0 ] || tail -5 "$LOGS/rt-bridge.log" | sed 's/^/    /'

echo "fresh-check: $([ $FAILED -eq 0 ] && echo passed || echo FAILED) in $(($(date +%s) - T0)) s"
exit $FAILED
