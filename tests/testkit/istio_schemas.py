"""Istio's resource schemas from a registry package (cloudcoil-models-istio: pydantic models
generated from Istio's CRDs), so validation needs nothing outside the clone.

The models ignore unknown fields, as the API server prunes them; a misspelt field would pass
silently, so every object schema that declares properties is closed, as
`kubectl --validate=strict` does.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

import cloudcoil.models.istio as istio_models
import jsonschema
from cloudcoil.resources import Resource

Document = dict[str, Any]


def closed(schema: Any) -> Any:
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: closed(value) for key, value in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema:
        result["additionalProperties"] = False
    return result


def _resource_classes() -> list[type[Resource]]:
    found: list[type[Resource]] = []
    for group in pkgutil.iter_modules(istio_models.__path__):
        package = importlib.import_module(f"{istio_models.__name__}.{group.name}")
        for version in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{version.name}")
            found.extend(value for value in vars(module).values()
                         if isinstance(value, type) and issubclass(value, Resource)
                         and value.__module__ == module.__name__)
    return found


@cache
def istio_schemas() -> dict[tuple[str, str], Document]:
    """(apiVersion, kind) → the closed JSON schema of that Istio resource."""
    schemas: dict[tuple[str, str], Document] = {}
    for model in _resource_classes():
        fields = model.model_fields
        key = (str(fields["api_version"].default), str(fields["kind"].default))
        schemas[key] = closed(model.model_json_schema(by_alias=True))
    return schemas


def validate_istio(resource: Document) -> None:
    """Raise jsonschema.ValidationError if the resource is not a valid Istio resource."""
    schema = istio_schemas().get((resource.get("apiVersion", ""), resource.get("kind", "")))
    if schema is None:
        raise jsonschema.ValidationError(f"no Istio CRD for {resource.get('apiVersion')} {resource.get('kind')}")
    metadata = resource.get("metadata", {})
    if not metadata.get("name") or not metadata.get("namespace"):
        raise jsonschema.ValidationError(f"{resource['kind']} needs metadata.name and metadata.namespace")
    jsonschema.Draft202012Validator(schema).validate(resource)
