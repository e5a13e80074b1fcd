"""OpenAPI 3.1 document generated from the routes and descriptors."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from gateway.transcode import RuleSet, build_openapi

Document = dict[str, Any]


@pytest.fixture(scope="module")
def document(rules: RuleSet) -> Document:
    return build_openapi(rules, title="gwtest", version="v1")


def _operations(document: Document) -> list[tuple[str, str, Document]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


def _operation(document: Document, operation_id: str) -> Document:
    return next(op for _, _, op in _operations(document) if op["operationId"] == operation_id)


def _params(operation: Document, where: str) -> dict[str, Document]:
    return {p["name"]: p for p in operation["parameters"] if p["in"] == where}


def _schema(document: Document, name: str) -> Document:
    return document["components"]["schemas"][name]


def test_document_is_valid_openapi(document: Document) -> None:
    validate(document)


def test_every_binding_appears_exactly_once(rules: RuleSet, document: Document) -> None:
    grpc_methods = sorted(op["x-grpc-method"] for _, _, op in _operations(document))
    assert grpc_methods == sorted(route.grpc_path for route in rules.routes)


def test_operation_ids_are_service_method_and_unique(document: Document) -> None:
    ids = [op["operationId"] for _, _, op in _operations(document)]
    assert len(ids) == len(set(ids))
    assert {"LibraryService_GetBook", "LibraryService_GetBook_1", "EchoService_Echo"} <= set(ids)


def test_grpc_only_methods_are_absent(document: Document) -> None:
    assert not any(op["x-grpc-method"].endswith("/Ping") for _, _, op in _operations(document))


def test_multi_segment_variable_expands_into_segment_parameters(document: Document) -> None:
    path, method, operation = next(o for o in _operations(document) if o[2]["operationId"] == "LibraryService_GetBook")
    assert (path, method) == ("/v1/shelves/{shelve}/books/{book}", "get")
    assert {p["x-proto-field"] for p in _params(operation, "path").values()} == {"name"}
    assert all(p["required"] for p in _params(operation, "path").values())


def test_short_variable_and_verb_render_literally(document: Document) -> None:
    assert "get" in document["paths"]["/v1/shelves/{shelf}"]
    assert "post" in document["paths"]["/v1/shelves/{shelve}/books/{book}:cancel"]


def test_query_parameters_cover_remaining_fields_with_nested_names(document: Document) -> None:
    query = _params(_operation(document, "LibraryService_ListBooks"), "query")
    assert {"pageSize", "tags", "genres", "filter.authorName", "filter.pages.low", "releasedOn.year"} <= query.keys()
    assert "parent" not in query
    assert not {"labels", "filters", "filter"} & query.keys()


def test_query_parameter_schemas_follow_the_json_mapping(document: Document) -> None:
    query = _params(_operation(document, "LibraryService_ListBooks"), "query")
    assert query["tags"]["schema"] == {"type": "array", "items": {"type": "string"}} and query["tags"]["explode"]
    assert query["publishedAfter"]["schema"] == {"type": "string", "format": "date-time"}
    assert query["afterId"]["schema"] == {"type": "string", "format": "uint64"}
    assert query["genre"]["schema"] == {"$ref": "#/components/schemas/gwtest.v1.Genre"}


def test_body_star_operation_has_no_query_parameters(document: Document) -> None:
    cancel = _operation(document, "LibraryService_CancelBook")
    assert _params(cancel, "query") == {}


def test_body_star_schema_excludes_path_bound_fields(document: Document) -> None:
    cancel = _operation(document, "LibraryService_CancelBook")
    schema = cancel["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"reason", "requestId"}


def test_body_field_operation_takes_that_field_as_body(document: Document) -> None:
    create = _operation(document, "LibraryService_CreateBook")
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/gwtest.v1.Book"}
    assert "book" not in _params(create, "query") and "requestId" in _params(create, "query")


def test_operations_without_body_have_no_request_body(document: Document) -> None:
    assert "requestBody" not in _operation(document, "LibraryService_GetBook")


def test_message_schema_maps_proto_types(document: Document) -> None:
    properties = _schema(document, "gwtest.v1.Kitchen")["properties"]
    assert properties["int64Value"] == {"type": "string", "format": "int64"}
    assert properties["counts"] == {"type": "object", "additionalProperties": {"type": "string", "format": "int64"}}
    assert properties["numbers"]["type"] == "array"
    assert properties["maybeText"] == {"type": ["string", "null"]}
    assert properties["bytesValue"] == {"type": "string", "format": "byte"}
    assert properties["date"] == {"$ref": "#/components/schemas/google.type.Date"}
    assert "oneof choice" in properties["left"]["description"]


def test_enum_schema_lists_value_names(document: Document) -> None:
    assert _schema(document, "gwtest.v1.Genre")["enum"] == ["GENRE_UNSPECIFIED", "GENRE_FICTION", "GENRE_SCIENCE"]


def test_field_behavior_becomes_required_and_read_only(document: Document) -> None:
    book = _schema(document, "gwtest.v1.Book")
    assert book["required"] == ["title"]
    assert book["properties"]["publishTime"]["readOnly"] is True


def test_recursive_message_is_referenced_not_inlined(document: Document) -> None:
    assert _schema(document, "gwtest.v1.Book")["properties"]["sequel"] == {"$ref": "#/components/schemas/gwtest.v1.Book"}


def test_proto_comments_become_descriptions(document: Document) -> None:
    assert _operation(document, "LibraryService_GetBook")["summary"] == "Fetches one book."
    assert _schema(document, "gwtest.v1.Book")["description"] == "A book on a shelf."


def test_errors_default_to_the_status_schema(document: Document) -> None:
    for _, _, operation in _operations(document):
        assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/google.rpc.Status"
        }
    assert _schema(document, "google.rpc.Status")["required"] == ["code", "message", "details"]


def test_streaming_reply_is_ndjson(document: Document) -> None:
    watch = _operation(document, "LibraryService_WatchBooks")
    assert list(watch["responses"]["200"]["content"]) == ["application/x-ndjson"]


def test_response_body_narrows_the_success_schema(document: Document) -> None:
    read = _operation(document, "LibraryService_ReadFile")
    assert read["responses"]["200"]["content"]["application/json"]["schema"] == {"type": "string", "format": "byte"}


def test_bearer_jwt_security_and_tags_per_service(document: Document) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert document["security"] == [{"bearerAuth": []}]
    assert [t["name"] for t in document["tags"]] == ["gwtest.v1.EchoService", "gwtest.v1.LibraryService"]


def test_additional_binding_gets_its_own_path_and_parameters(document: Document) -> None:
    path, _, operation = next(o for o in _operations(document) if o[2]["operationId"] == "LibraryService_GetBook_1")
    assert path == "/v1/archives/{archive}/books/{book}"
    assert set(_params(operation, "path")) == {"archive", "book"}


def test_deep_wildcard_variable_is_one_parameter(document: Document) -> None:
    operation = document["paths"]["/v1/files/{path}"]["get"]
    assert "May contain '/'" in _params(operation, "path")["path"]["description"]
