"""The Python REST edge around the transcoding core: HTTP serving, auth, limits, upstreams.

``gateway.app.create_app(settings)`` assembles it; each module here has one job.
"""
