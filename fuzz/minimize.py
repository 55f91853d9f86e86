#!/usr/bin/env python3
"""Shrinks a target's corpus to a few dozen files for the repository.

libFuzzer's set-cover merge first picks, from corpus/TARGET and corpus-work/TARGET, a
set of inputs that keeps every edge the fuzzer reached (hundreds of files for the
parsers). The repository keeps the named files (hand-written seeds, regression_*) plus
the largest inputs of that set, up to --max files, and prints how many edges the kept
files still reach. Every file in corpus/ is replayed on stable by
test-support/tests/fuzz_corpus.rs.

    python3 fuzz/minimize.py TARGET [--max 40]

Needs the target built (`RUSTC_BOOTSTRAP=1 cargo fuzz build -O`)."""
import argparse, hashlib, os, re, shutil, subprocess, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("target")
ap.add_argument("--max", type=int, default=40)
args = ap.parse_args()
binary = os.path.join(HERE, "target", "x86_64-unknown-linux-gnu", "release", args.target)
corpus = os.path.join(HERE, "corpus", args.target)
work = os.path.join(HERE, "corpus-work", args.target)


def merge(out, *dirs, set_cover=False):
    flag = "-set_cover_merge=1" if set_cover else "-merge=1"
    run = subprocess.run(
        ["nice", "-n", "19", binary, flag, "-use_counters=0", "-use_value_profile=0", out, *dirs],
        check=True, capture_output=True, text=True)
    edges = re.findall(r"(\d+) new coverage edges", run.stderr)
    return int(edges[-1]) if edges else 0


def is_named(name):
    return not re.fullmatch(r"[0-9a-f]{40}", name)


def edges_of(path, tmp):
    """Every edge one input reaches (a merge of that input alone)."""
    one = os.path.join(tmp, "one")
    out = os.path.join(tmp, "one-out")
    control = os.path.join(tmp, "control")
    for d in (one, out):
        shutil.rmtree(d, ignore_errors=True)
        os.mkdir(d)
    if os.path.exists(control):
        os.remove(control)  # an existing control file would resume the last merge
    shutil.copy(path, one)
    subprocess.run(
        ["nice", "-n", "19", binary, "-merge=1", f"-merge_control_file={control}",
         "-use_counters=0", "-use_value_profile=0", out, one],
        check=True, capture_output=True)
    if not os.path.exists(control):  # libFuzzer skips empty inputs
        return set()
    for line in open(control).read().splitlines():
        if line.startswith("COV "):
            return set(line.split()[2:])
    return set()


with tempfile.TemporaryDirectory() as tmp:
    cover = os.path.join(tmp, "cover")
    os.mkdir(cover)
    sources = [corpus] + ([work] if os.path.isdir(work) else [])
    merge(cover, *sources, set_cover=True)
    everything = os.path.join(tmp, "everything")
    os.mkdir(everything)
    reached = merge(everything, *sources)
    named = {n: open(os.path.join(corpus, n), "rb").read() for n in os.listdir(corpus) if is_named(n)}
    covered = set()
    for name in named:
        covered |= edges_of(os.path.join(corpus, name), tmp)
    # Greedy set cover over the set-cover merge's picks: most new edges first.
    candidates = {n: edges_of(os.path.join(cover, n), tmp) for n in sorted(os.listdir(cover))}
    kept = dict(named)
    while len(kept) < args.max and candidates:
        best = max(sorted(candidates), key=lambda n: len(candidates[n] - covered))
        if not candidates[best] - covered:
            break
        covered |= candidates.pop(best)
        data = open(os.path.join(cover, best), "rb").read()
        if data not in kept.values():
            kept[hashlib.sha1(data).hexdigest()] = data
    shutil.rmtree(corpus)
    os.makedirs(corpus)
    for name, data in kept.items():
        with open(os.path.join(corpus, name), "wb") as f:
            f.write(data)
    check = os.path.join(tmp, "check")
    os.mkdir(check)
    kept_edges = merge(check, corpus)
print(f"{args.target}: kept {len(kept)} files ({len(named)} named) reaching {kept_edges} "
      f"of the {reached} edges reached by the whole corpus")
