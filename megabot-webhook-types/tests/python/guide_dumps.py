"""Reference output for tests/python_json.rs: the guide's body bytes.

    guide_dumps.py files PATH...   one line per file: json.dumps(json.load(f), separators=(',', ':'))
    guide_dumps.py lines           one line per stdin line: json.dumps(json.loads(line), separators=(',', ':'))

Lines are split on b"\\n" only (never str.splitlines, which would also split
on U+2028, U+0085 and friends inside raw UTF-8 strings).
"""

import json
import sys

SEPARATORS = (",", ":")


def dumps(value):
    return json.dumps(value, separators=SEPARATORS).encode("ascii") + b"\n"


def main(argv):
    out = sys.stdout.buffer
    if len(argv) >= 2 and argv[1] == "files":
        for path in argv[2:]:
            with open(path, encoding="utf-8") as f:
                out.write(dumps(json.load(f)))
    elif len(argv) == 2 and argv[1] == "lines":
        lines = sys.stdin.buffer.read().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for number, line in enumerate(lines, 1):
            try:
                value = json.loads(line.decode("utf-8"))
            except ValueError as e:
                sys.exit(f"line {number}: {e}: {line[:200]!r}")
            out.write(dumps(value))
    else:
        sys.exit(__doc__)
    out.flush()


if __name__ == "__main__":
    main(sys.argv)
