#!/usr/bin/env python3
"""Writes the starting corpus of every fuzz target into corpus/<target>/ (run once;
the fuzzers then grow and `cargo fuzz cmin` shrinks it)."""
import base64, glob, hashlib, hmac, json, os

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")
EVENTS = sorted(glob.glob(os.path.join(HERE, "..", "..", "megabot-webhook-types", "tests", "data", "events", "*.json")))
SECRETS = ["your_webhook_secret", "next_webhook_secret"]
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY = base64.b64decode(WHSEC[6:])
NOW = 1640995300

def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def mb(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

def sw(msg_id, ts, body):
    mac = hmac.new(KEY, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()

compact = []
for path in EVENTS:
    with open(path) as f:
        value = json.load(f)
    compact.append((os.path.basename(path)[:-5], json.dumps(value, separators=(",", ":")).encode()))

# megabot_signature_header
body = b'{"event":"x"}'
good = mb(SECRETS[0], body)
write("megabot_signature_header", "good", good)
write("megabot_signature_header", "upper", "sha256=" + good[7:].upper())
write("megabot_signature_header", "rotation", f"{mb(SECRETS[1], body)} {good}")
write("megabot_signature_header", "junk", f"sha1=abc  \t{good[:-1]} sha256= v1,abc sha256=zz{good[9:]}")
write("megabot_signature_header", "empty", "")

# standard_headers
for i, (name, b) in enumerate(compact[:3]):
    write("standard_headers", f"good_{name}", f"msg_{i}\n{NOW}\n{sw(f'msg_{i}', NOW, b)}\n{WHSEC}\n".encode() + b)
b = compact[0][1]
sig = sw("msg_1", NOW, b)
write("standard_headers", "unpadded", f"msg_1\n {NOW} \n{sig.rstrip('=')} v1a,xyz\nMfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n".encode() + b)
write("standard_headers", "stale", f"msg_1\n{NOW - 301}\n{sw('msg_1', NOW - 301, b)}\nwhsec_\n".encode() + b)
write("standard_headers", "bad_ts", f"msg_1\n-5\nv1,{'A' * 43}\nwhsec_!!\n".encode() + b)

# verify_request
for i, (name, b) in enumerate(compact):
    fresh = json.loads(b)
    fresh["timestamp"] = NOW - 10 * i
    fb = json.dumps(fresh, separators=(",", ":")).encode()
    flags = [1, 2, 3, 5, 10][i % 5]
    head = f"X-MegaBot-Event: {fresh['event']}\nX-MegaBot-Delivery: {fresh['id']}\nX-MegaBot-Timestamp: {NOW}\n"
    write("verify_request", f"signed_{name}", bytes([flags]) + head.encode() + b"\n" + fb)
b = json.dumps({"event": "error_occurred", "id": "evt_1", "timestamp": NOW, "data": {"message": "m"}}, separators=(",", ":")).encode()
write("verify_request", "header_signed", bytes([0]) + f"X-MegaBot-Signature: {mb(SECRETS[0], b)}\n".encode() + b"\n" + b)
write("verify_request", "not_json", bytes([1]) + b"\n\n{not json")
write("verify_request", "stale", bytes([1]) + b"\n\n" + b.replace(str(NOW).encode(), b"1"))
write("verify_request", "data_first", bytes([1]) + b"\n\n" + b'{"data":{},"timestamp":%d,"id":"e","event":"brand_new"}' % NOW)

# event_parse
for name, b in compact:
    write("event_parse", name, b)
with open(EVENTS[0], "rb") as f:
    write("event_parse", "pretty", f.read())
write("event_parse", "unknown", b'{"event":"brand_new","id":"e","timestamp":1,"data":[1,2.5,"\\u00e9",null]}')
write("event_parse", "malformed", b'{"event":"error_occurred","id":"e","timestamp":1,"data":{"severity":5}}')
write("event_parse", "no_data", b'{"id":"e","timestamp":1,"event":"chat_message_sent","extra":true}')

# guide_json
for name, b in compact[:5]:
    write("guide_json", name, b)
write("guide_json", "floats", b'[1e16,1e-5,100.0,28.5,0.1,-0.0,5e-324,1.7976931348623157e308,123456789012345678901234567890,-9223372036854775808,18446744073709551615]')
write("guide_json", "strings", '{"a":"caf\u00e9 \U0001F600","\\u0000":"\\ud83d\\ude00\\n\\t\\u007f/"}'.encode())

# config_load: the sender's own test configs (good and bad ones)
import shutil
for path in sorted(glob.glob(os.path.join(HERE, "..", "..", "megabot-webhook-verify", "tests", "data", "config", "*.yaml"))):
    d = os.path.join(CORPUS, "config_load")
    os.makedirs(d, exist_ok=True)
    shutil.copy(path, os.path.join(d, os.path.basename(path)[:-5]))
