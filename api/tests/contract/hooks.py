"""Schemathesis hooks for the PaaS API's contract test.

`application/gzip` bodies (source tarballs, static bundles) are gzip streams
by definition: whatever bytes schemathesis generates are sent gzip-compressed,
so the API sees the media type the document names.
"""

import gzip

import schemathesis


@schemathesis.serializer("application/gzip")
def gzip_body(ctx, value):
    raw = getattr(value, "data", value)
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="ignore")
    elif not isinstance(raw, (bytes, bytearray)):
        raw = repr(raw).encode()
    return gzip.compress(bytes(raw))
