#!/usr/bin/env python3
"""Checks the workspace's declared `rust-version` against what it really needs.

The declared MSRV must be at least the highest `rust-version` of every package in
the locked dependency graph of the published crates (from `cargo metadata`, so no
toolchain is downloaded), and at most the toolchain that builds it here. Exits 1
with the offending packages when the claim is false.
"""
import json
import subprocess
import sys


def version_tuple(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in metadata["packages"]}
    members = set(metadata["workspace_members"])
    published = [i for i in members if packages[i].get("publish") != []]
    declared = {packages[i]["rust_version"] for i in members}
    if len(declared) != 1 or None in declared:
        print(f"every workspace member must declare one rust-version, found {declared}")
        return 1
    declared = declared.pop()

    # The dependency graph of the published crates: normal and build dependencies
    # (what a user compiles), all features the resolver enabled.
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    seen, stack = set(), list(published)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for dep in nodes[node]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if kinds & {None, "build"}:
                stack.append(dep["pkg"])

    needs = sorted(
        ((version_tuple(packages[i]["rust_version"]), packages[i]["name"], packages[i]["version"])
         for i in seen - members if packages[i].get("rust_version")),
        reverse=True,
    )
    highest = needs[0][0] if needs else (0, 0, 0)
    rustc = subprocess.run(["rustc", "--version"], check=True, capture_output=True, text=True).stdout
    toolchain = version_tuple(rustc.split()[1].split("-")[0])
    print(f"declared rust-version {declared}; locked dependencies need {'.'.join(map(str, highest))}"
          f" ({', '.join(f'{n} {v}' for r, n, v in needs if r == highest)}); toolchain {rustc.strip()}")
    if version_tuple(declared) < highest:
        print("error: the declared rust-version is lower than the dependencies need:")
        for need, name, version in needs:
            if need > version_tuple(declared):
                print(f"  {name} {version} needs {'.'.join(map(str, need))}")
        return 1
    if version_tuple(declared) > toolchain:
        print("error: the declared rust-version is newer than the toolchain that checks it")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
