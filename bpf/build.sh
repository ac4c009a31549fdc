#!/bin/sh
# Regenerates bpf/leaks.bpf.o from bpf/leaks.bpf.c with the pinned compiler, and records beside
# it what it was built from (bpf/leaks.bpf.o.sum): the compiler's version line and the SHA-256
# of the sources. The test `leaks::object_is_fresh` fails when these no longer match.
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-clang-14}
version=$("$CLANG" --version | head -n 1)
case "$version" in
    *"clang version 14."*) ;;
    *) echo "bpf/build.sh: need clang 14 (Debian 12's clang-14), found: $version" >&2; exit 2 ;;
esac
"$CLANG" -O2 -g -target bpf -c leaks.bpf.c -o leaks.bpf.o
sum=$(cat leaks.bpf.c build.sh | sha256sum | cut -d' ' -f1)
printf 'compiler: %s\nsources: %s\n' "$(echo "$version" | sed 's/ (.*//')" "$sum" > leaks.bpf.o.sum
cat leaks.bpf.o.sum
