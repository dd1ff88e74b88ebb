"""Schemathesis hooks for scripts/schemathesis.sh.

- A check that fails when any response carries a secret value the script stored in an
  account (PATCHBAY_SENTINELS, one per line).
- The run's own token (PATCHBAY_OWN_TOKEN_ID) and its seeded tenant (PATCHBAY_SEED_TENANT)
  are not deleted: a DELETE aimed at them goes to an id that names nothing instead, so the
  rest of the run keeps its credentials and data.
- Recording audio bodies (`audio/*`) are sent as raw bytes, like `application/octet-stream`.
- Conversation events are read without waiting (`wait=0`) and as a page, never as an
  endless event stream, so each call answers at once.
- The live state's event stream (`/tenants/{tenant}/live/stream`) never ends, so
  schemathesis.sh leaves it out (`--exclude-path`); crates/server/tests/openapi.rs reads its
  first event against the document, and crates/server/tests/live.rs the rest.
"""

import os
import uuid

import schemathesis

AUDIO_TYPES = ["audio/wav", "audio/x-wav", "audio/wave", "audio/mpeg", "audio/ogg", "audio/opus",
               "audio/webm", "audio/mp4", "audio/flac", "audio/basic"]
schemathesis.serializer.alias(AUDIO_TYPES, "application/octet-stream")

SENTINELS = [s for s in os.environ.get("PATCHBAY_SENTINELS", "").splitlines() if s]
OWN_TOKEN_ID = os.environ.get("PATCHBAY_OWN_TOKEN_ID", "")
SEED_TENANT = os.environ.get("PATCHBAY_SEED_TENANT", "")


@schemathesis.check
def no_stored_secret_in_response(ctx, response, case):
    body = response.content or b""
    headers = "\n".join(f"{k}: {', '.join(v)}" for k, v in response.headers.items()).encode()
    for sentinel in SENTINELS:
        needle = sentinel.encode()
        if needle in body or needle in headers:
            raise AssertionError(f"a stored secret value appears in the response of {case.method} {case.path}")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if case.path.endswith("/conversations/events"):
        if case.query and "wait" in case.query:
            case.query["wait"] = 0
        if case.headers:
            case.headers.pop("Accept", None)
    if case.method.upper() != "DELETE" or not case.path_parameters:
        return
    params = case.path_parameters
    if case.path == "/tokens/{id}" and str(params.get("id", "")).lower() == OWN_TOKEN_ID:
        params["id"] = str(uuid.uuid4())
    elif case.path == "/tenants/{tenant}" and params.get("tenant") == SEED_TENANT:
        params["tenant"] = f"gone-{uuid.uuid4().hex[:8]}"
