#!/bin/sh
# Print the example configuration with a local stack's ports: the bridge's
# SMPP listener, its upstream (the simulator), its admin server and Redis,
# all on 127.0.0.1. Used by `make run` and scripts/fresh-check.sh.
#
#   scripts/local-conf.sh SMPP_PORT SIM_PORT ADMIN_PORT REDIS_PORT [CONF]
#
# CONF defaults to conf/smppbridge.conf beside this script.
set -eu
[ $# -ge 4 ] || { echo "usage: $0 SMPP_PORT SIM_PORT ADMIN_PORT REDIS_PORT [CONF]" >&2; exit 2; }
conf=${5:-$(dirname "$0")/../conf/smppbridge.conf}
awk -v smpp="$1" -v sim="$2" -v admin="$3" -v redis="$4" '
    /^\[/ { section = $0 }
    section == "[server]" && /^listen *=/ { print "listen = 127.0.0.1:" smpp; next }
    section == "[admin]" && /^listen *=/ { print "listen = 127.0.0.1:" admin; next }
    section == "[redis]" && /^port *=/ { print "port = " redis; next }
    section == "[upstream sim]" && /^port *=/ { print "port = " sim; next }
    { print }' "$conf"
