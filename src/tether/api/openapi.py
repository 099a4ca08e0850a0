"""The OpenAPI document of the public endpoints, built from the route table and the
request schemas (clients and fuzzers use it)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tether import __version__

if TYPE_CHECKING:
    from tether.api.routes import Endpoint

_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
_ERROR = {"$ref": "#/components/schemas/Error"}
_ERRORS = {
    str(code): {"description": text, "content": {"application/json": {"schema": _ERROR}}}
    for code, text in ((400, "Bad request"), (401, "No valid key"), (404, "Not found"))
}
_OK = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}


def document(endpoints: tuple[Endpoint, ...]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "object"}},
        }
    }
    for endpoint in endpoints:
        if endpoint.operation is None:
            continue
        operation: dict[str, Any] = {
            "operationId": endpoint.operation,
            "responses": {"200": _OK, **_ERRORS},
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAM.findall(endpoint.path)
        ]
        if endpoint.query is not None:
            fields = endpoint.query.model_json_schema()["properties"]
            parameters += [
                {"name": k, "in": "query", "required": False, "schema": v}
                for k, v in fields.items()
            ]
        if parameters:
            operation["parameters"] = parameters
        if endpoint.body is not None:
            name = endpoint.body.__name__
            body = endpoint.body.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(body.pop("$defs", {}))
            schemas[name] = body
            content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
            operation["requestBody"] = {"required": True, "content": content}
        path = _PATH_PARAM.sub(r"{\1}", endpoint.paths[0])
        paths.setdefault(path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "tether", "version": __version__},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def handler(endpoints: tuple[Endpoint, ...]) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint serving the document of `endpoints`, built once."""
    body = orjson.dumps(document(endpoints))

    async def serve(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    return serve
