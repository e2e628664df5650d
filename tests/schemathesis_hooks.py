"""schemathesis hooks for klapka's API (``SCHEMATHESIS_HOOKS=schemathesis_hooks`` with this
directory on ``PYTHONPATH``): greetings are uploaded as audio, sent as raw bytes."""

import schemathesis

for media_type in ("audio/wav", "audio/x-wav", "audio/wave", "audio/mpeg", "audio/mp3"):
    schemathesis.serializer.alias(media_type, "application/octet-stream")
