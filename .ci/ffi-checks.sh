#!/usr/bin/env bash
# Checks of the FFI module modules/math-utils that need more than cargo test:
#   1. the C library's own tests (make test), built with -Wall -Wextra -Werror;
#   2. the same tests under AddressSanitizer and UBSan (make sanitize);
#   3. the committed bindgen bindings are current (cargo test --features bindgen).
# Needs gcc, make and libclang (Debian: gcc make libc6-dev libclang-dev).
# Run from the repository root: bash .ci/ffi-checks.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

hugemem=modules/math-utils/hugemem
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
tree_state() { git status --porcelain --ignored -- "$hugemem" 2>/dev/null || true; }
before=$(tree_state)

echo "== make test ($hugemem)"
make -C "$hugemem" BUILD="$build/plain" test

echo "== make sanitize ($hugemem: -fsanitize=address,undefined)"
make -C "$hugemem" BUILD="$build/plain" sanitize

echo "== cargo test -p math-utils --features bindgen (committed bindings are current)"
cargo test -p math-utils --features bindgen

# make wrote into $build only: no build products appeared in the source tree.
after=$(tree_state)
if [ "$before" != "$after" ]; then
    echo "ffi-checks: the checks left files in $hugemem:" >&2
    diff <(echo "$before") <(echo "$after") >&2 || true
    exit 1
fi
echo "ffi-checks: all passed"
