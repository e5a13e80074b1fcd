"""The /docs page: Swagger UI over /openapi.json, its assets served from the swagger-ui-py
package (Swagger UI 5, which reads OpenAPI 3.1), so no CDN is ever needed."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

ASSET_PREFIX = "/docs/"
ASSETS: dict[str, bytes] = {
    "swagger-ui.css": b"text/css; charset=utf-8",
    "swagger-ui-bundle.js": b"text/javascript; charset=utf-8",
    "swagger-ui-standalone-preset.js": b"text/javascript; charset=utf-8",
    "favicon-32x32.png": b"image/png",
}

PAGE = b"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>clearmesh API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout",
      deepLinking: true,
    });
  </script>
</body>
</html>
"""


@cache
def asset(name: str) -> bytes:
    """One static file of the package, read once."""
    return (files("swagger_ui") / "static" / name).read_bytes()
