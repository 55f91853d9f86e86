# Copied verbatim from the "Webhook Signing" section of
# shared/seed/webhook-integration-guide.md (MegaBot webhook integration guide).
import hmac
import hashlib
import json

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
