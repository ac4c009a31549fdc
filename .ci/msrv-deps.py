#!/usr/bin/env python3
"""Keeps the declared minimum Rust version honest without installing that toolchain.

The workspace declares `rust-version` in Cargo.toml. Clippy's `incompatible_msrv` lint catches
our own uses of newer standard-library items; this script catches the other half: a dependency
in Cargo.lock whose own `rust-version` is higher than ours, which would not build on the version
we promise. Every package of the lock file counts (all features, every target, dev- and
build-dependencies included), as read from `cargo metadata --format-version 1`.

Run from anywhere: python3 .ci/msrv-deps.py
Exits 1 and names each offending package if there is one.
"""

import json
import pathlib
import subprocess
import sys


def version(text):
    """'1.87' or '1.87.0' as a comparable tuple (1, 87, 0)."""
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"],
        cwd=root,
        check=True,
        stdout=subprocess.PIPE,
    ).stdout
    meta = json.loads(out)
    members = set(meta["workspace_members"])
    ours = {p["rust_version"] for p in meta["packages"] if p["id"] in members}
    ours.discard(None)
    if len(ours) != 1:
        print(f"msrv-deps: expected one rust-version across the workspace, found {sorted(ours)}")
        return 1
    msrv = ours.pop()
    too_new = sorted(
        (p["name"], p["version"], p["rust_version"])
        for p in meta["packages"]
        if p["id"] not in members
        and p["rust_version"] is not None
        and version(p["rust_version"]) > version(msrv)
    )
    for name, ver, needs in too_new:
        print(f"msrv-deps: {name} {ver} needs Rust {needs}, above the declared rust-version {msrv}")
    if too_new:
        print("msrv-deps: pin an older version (cargo update -p NAME --precise VERSION) or raise rust-version")
        return 1
    checked = sum(1 for p in meta["packages"] if p["id"] not in members)
    print(f"msrv-deps: {checked} dependencies, none needs more than Rust {msrv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
