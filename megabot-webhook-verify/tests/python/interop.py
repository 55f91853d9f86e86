"""Interop peer for megabot-webhook-verify's tests.

Reads a JSON array of jobs on stdin, writes a JSON array of results on stdout.

    python3 interop.py standard-sign    # [{secret, id, timestamp, body}] -> ["v1,..."]
    python3 interop.py standard-verify  # [{secret, headers, body}] -> [{"ok": bool, "error": str}]
    python3 interop.py guide-sign       # [{secret, payload}] -> [{"signature", "payload"}]

`standard-*` use the `standardwebhooks` package from PyPI (the reference
library); `guide-sign` uses the guide's own WebhookSigner (webhook_signer.py).
"""

import json
import os
import sys
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def standard_sign(jobs):
    from standardwebhooks.webhooks import Webhook

    out = []
    for job in jobs:
        hook = Webhook(job["secret"])
        when = datetime.fromtimestamp(job["timestamp"], tz=timezone.utc)
        out.append(hook.sign(job["id"], when, job["body"]))
    return out


def standard_verify(jobs):
    from standardwebhooks.webhooks import Webhook

    out = []
    for job in jobs:
        hook = Webhook(job["secret"])
        try:
            hook.verify(job["body"].encode("utf-8"), job["headers"], json_parse=False)
            out.append({"ok": True, "error": ""})
        except Exception as error:  # report every failure to the Rust side
            out.append({"ok": False, "error": f"{type(error).__name__}: {error}"})
    return out


def guide_sign(jobs):
    from webhook_signer import WebhookSigner

    out = []
    for job in jobs:
        signed = WebhookSigner(job["secret"]).sign_payload(job["payload"])
        out.append({"signature": signed["signature"], "payload": signed["payload"]})
    return out


COMMANDS = {
    "standard-sign": standard_sign,
    "standard-verify": standard_verify,
    "guide-sign": guide_sign,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: interop.py {{{'|'.join(COMMANDS)}}}")
    jobs = json.load(sys.stdin)
    json.dump(COMMANDS[sys.argv[1]](jobs), sys.stdout)


if __name__ == "__main__":
    main()
