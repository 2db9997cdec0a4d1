#!/bin/sh
# Print the Debian packages that hold the shared libraries the given
# binaries link, one a line, sorted: the runtime package list, derived
# from the binaries themselves so that a library added to the build is
# never missing from the container image.
#
#   scripts/runtime-deps.sh build/bin/smppbridge build/bin/smppctl ...
#
# Fails, naming the library, when a library is not found or belongs to no
# package (a library built by hand would not be in the image either).
set -eu
[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }

owner() {
    # Debian 12 merged /lib into /usr/lib, but dpkg records each file under
    # the path its package ships, and ldd prints either form.
    for f in "$1" "$(readlink -f "$1")" "/usr$1"; do
        pkg=$(dpkg-query -S "$f" 2>/dev/null | head -1 | cut -d: -f1) || true
        [ -n "$pkg" ] && { echo "$pkg"; return 0; }
    done
    echo "runtime-deps: no Debian package holds $1" >&2
    return 1
}

libs=$(for bin in "$@"; do
    out=$(ldd "$bin") || { echo "runtime-deps: ldd failed on $bin" >&2; exit 1; }
    if echo "$out" | grep -q "not found"; then
        echo "runtime-deps: $bin: $(echo "$out" | grep "not found" | tr -s ' \t' ' ')" >&2
        exit 1
    fi
    # "name => /path (addr)" lines; the vdso and the loader have no "=>"
    echo "$out" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u)

for lib in $libs; do owner "$lib"; done | sort -u
