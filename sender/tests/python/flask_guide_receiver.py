"""The guide's Flask receiver, run by tests/sender_flask.rs.

`WebhookSigner`, `verify_webhook_signature` and `handle_webhook` are the
guide's code as printed ("Webhook Signing" and "Signature Verification"),
with only what the guide leaves out added: the Flask app, `process_event`,
and a server on a free loopback port whose number is printed on the first
line of stdout.

Note how the guide verifies: it parses the body, re-serialises it with
`json.dumps(payload, separators=(',', ':'))` and compares the HMAC of that.
Only bodies already in that exact form verify.
"""

import hmac
import hashlib
import json
import sys

from flask import Flask, request
from werkzeug.serving import make_server


# --- the guide's "Webhook Signing" ---------------------------------------------
class WebhookSigner:
    def __init__(self, secret_key):
        self.secret_key = secret_key.encode()

    def sign_payload(self, payload):
        """Sign webhook payload."""
        payload_str = json.dumps(payload, separators=(',', ':'))
        signature = hmac.new(
            self.secret_key,
            payload_str.encode(),
            hashlib.sha256
        ).hexdigest()

        return {
            'signature': f'sha256={signature}',
            'payload': payload_str
        }

    def verify_signature(self, payload, signature):
        """Verify webhook signature."""
        expected = self.sign_payload(payload)['signature']
        return hmac.compare_digest(expected, signature)


# --- what the guide leaves out ----------------------------------------------------
app = Flask(__name__)
received_ids = []


def process_event(event):
    received_ids.append(event['id'])


# --- the guide's "Signature Verification" ----------------------------------------
def verify_webhook_signature(request):
    """Verify incoming webhook signature."""
    signature = request.headers.get('X-MegaBot-Signature')
    payload = request.get_json()

    signer = WebhookSigner('your_webhook_secret')
    return signer.verify_signature(payload, signature)


@app.route('/webhook', methods=['POST'])
def handle_webhook():
    if not verify_webhook_signature(request):
        return 'Invalid signature', 401

    # Process webhook
    event = request.get_json()
    process_event(event)

    return 'OK', 200


# --- test plumbing ------------------------------------------------------------------
@app.route('/received', methods=['GET'])
def received():
    return json.dumps(received_ids)


if __name__ == '__main__':
    server = make_server('127.0.0.1', 0, app, threaded=True)
    sys.stdout.write(f'{server.server_port}\n')
    sys.stdout.flush()
    server.serve_forever()
