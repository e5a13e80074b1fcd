"""The platform's contracts as one serialized FileDescriptorSet.

Built by scripts/protogen.py with imports and source info, and shipped inside the generated
`clearmesh` package; the Python edge routes from it and the Envoy/Istio renderers feed Envoy
these very bytes.
"""

from __future__ import annotations

from importlib.resources import files


def load_descriptor_set() -> bytes:
    """The FileDescriptorSet shipped with the generated code (`clearmesh/descriptor.binpb`)."""
    return (files("clearmesh") / "descriptor.binpb").read_bytes()
