"""The mesh's REST edge in Envoy: a standalone bootstrap and the Istio resources, generated.

Everything that follows from the contracts (the transcoder and its services, the route table,
the per-service authorization policies, the retry table) is rendered from the same descriptor
set the Python edge serves, by ``python -m gateway.envoy.render``; ``--check`` fails when the
committed files drift from it.
"""
