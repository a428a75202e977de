"""``/schema``: the public API's description. The JSON and YAML documents, and a docs page
rendered here from the same document: plain HTML, no script and nothing from a CDN, so it
works under the Content-Security-Policy and on a closed network (issue 16).

Only ``/api/v1`` is published: ``create_app`` leaves every other route out of the schema.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    YamlRenderPlugin,
)

from app.web.templating import ENV

METHODS = ("get", "post", "put", "patch", "delete")


class DocsPage(OpenAPIRenderPlugin):
    """Every operation of the document: method, path, summary, parameters, request and answers."""

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        operations = []
        for path, item in sorted(openapi_schema.get("paths", {}).items()):
            for method in METHODS:
                op = item.get(method)
                if op:
                    operations.append({"method": method.upper(), "path": path, "op": op})
        html = ENV.get_template("api_docs.html").render(schema=openapi_schema, operations=operations)
        return html.encode()


RENDER_PLUGINS = [DocsPage(path=["/", "/docs"]), JsonRenderPlugin(), YamlRenderPlugin()]
