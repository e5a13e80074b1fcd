"""`clearmesh load`: a realistic order flow against a running mesh, over gRPC or REST.

`flow.py` is the pure, seeded generator of what traders do; `accounts.py` puts the traders
through KYC and funds them; `drivers.py` is what a transport must do, `grpc_driver.py` and
`rest_driver.py` the two transports; `runner.py` paces the flow and times each call, on the
open-loop schedule of `pacing.py` when a rate is set; `lag.py` samples settlement lag;
`report.py` turns the samples into figures; `session.py` runs the whole of it (for the CLI
and bench/mesh.py).
"""
