"""Ed25519 (Standard Webhooks `v1a`) interop peer for megabot-webhook-verify's tests.

An independent implementation of the asymmetric scheme on top of the `cryptography`
package (OpenSSL's Ed25519). The `standardwebhooks` package from PyPI (1.1.0) has no
`v1a` support, so it cannot be the peer here; `supports` reports whether the installed
version has grown any.

Reads a JSON array of jobs on stdin, writes a JSON array of results on stdout.

    python3 ed25519_interop.py keypair    # [{seed_hex}] -> [{whsk, whpk}]
    python3 ed25519_interop.py v1a-sign   # [{whsk, id, timestamp, body_b64}] -> ["v1a,..."]
    python3 ed25519_interop.py v1a-verify # [{whpk, id, timestamp, body_b64, signature}]
                                          #   -> [{"ok": bool, "error": str}]
    python3 ed25519_interop.py supports   # [] -> [] (exit 0); prints to stderr whether
                                          #   standardwebhooks mentions v1a
"""

import base64
import binascii
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

RAW = serialization.Encoding.Raw
RAW_PUBLIC = serialization.PublicFormat.Raw


def b64decode_lenient(text):
    """Standard alphabet, padding optional."""
    text = text.strip()
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def public_bytes(public_key):
    return public_key.public_bytes(RAW, RAW_PUBLIC)


def parse_whsk(text):
    if not text.startswith("whsk_"):
        raise ValueError("not a whsk_ key")
    raw = b64decode_lenient(text[len("whsk_"):])
    if len(raw) not in (32, 64):
        raise ValueError("whsk_ must hold 32 or 64 bytes")
    key = Ed25519PrivateKey.from_private_bytes(raw[:32])
    if len(raw) == 64 and public_bytes(key.public_key()) != raw[32:]:
        raise ValueError("public half does not match the seed")
    return key


def parse_whpk(text):
    if not text.startswith("whpk_"):
        raise ValueError("not a whpk_ key")
    raw = b64decode_lenient(text[len("whpk_"):])
    if len(raw) != 32:
        raise ValueError("whpk_ must hold 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def signed_content(job):
    body = base64.b64decode(job["body_b64"])
    return job["id"].encode("utf-8") + b"." + str(job["timestamp"]).encode() + b"." + body


def keypair(jobs):
    out = []
    for job in jobs:
        seed = binascii.unhexlify(job["seed_hex"])
        key = Ed25519PrivateKey.from_private_bytes(seed)
        public = public_bytes(key.public_key())
        out.append(
            {
                "whsk": "whsk_" + base64.b64encode(seed + public).decode(),
                "whpk": "whpk_" + base64.b64encode(public).decode(),
            }
        )
    return out


def v1a_sign(jobs):
    out = []
    for job in jobs:
        key = parse_whsk(job["whsk"])
        signature = key.sign(signed_content(job))
        out.append("v1a," + base64.b64encode(signature).decode())
    return out


def v1a_verify(jobs):
    out = []
    for job in jobs:
        try:
            key = parse_whpk(job["whpk"])
            content = signed_content(job)
            ok = False
            for entry in job["signature"].split():
                version, _, encoded = entry.partition(",")
                if version != "v1a":
                    continue
                try:
                    key.verify(b64decode_lenient(encoded), content)
                    ok = True
                except (InvalidSignature, ValueError, binascii.Error):
                    continue
            out.append({"ok": ok, "error": "" if ok else "no v1a entry verified"})
        except Exception as error:  # report every failure to the Rust side
            out.append({"ok": False, "error": f"{type(error).__name__}: {error}"})
    return out


def supports(_jobs):
    import inspect

    import standardwebhooks.webhooks as module

    source = inspect.getsource(module)
    has = "v1a" in source or "whsk_" in source
    print(f"standardwebhooks v1a support: {has}", file=sys.stderr)
    return []


COMMANDS = {
    "keypair": keypair,
    "v1a-sign": v1a_sign,
    "v1a-verify": v1a_verify,
    "supports": supports,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: ed25519_interop.py {{{'|'.join(COMMANDS)}}}")
    jobs = json.load(sys.stdin)
    json.dump(COMMANDS[sys.argv[1]](jobs), sys.stdout)


if __name__ == "__main__":
    main()
