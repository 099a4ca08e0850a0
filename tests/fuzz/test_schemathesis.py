"""Schemathesis against tether's own /openapi.json, served by a running tether: neither
requests the schema describes nor requests that break it get a 5xx, and every answer
matches the response schema documented for its status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.fuzz.conftest import Tally
from tests.support.server import TetherServer

# schemathesis.pytest.from_fixture needs pytest's private Node._nodeid, gone in pytest 9:
# each operation's strategy is driven by a plain @given instead.
OPERATIONS = [
    "createResponse",
    "compactResponse",
    "getResponse",
    "deleteResponse",
    "listInputItems",
    "listModels",
]
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
# Negative cases need something to break: a body or a constrained query parameter.
RUNS = [
    ("createResponse", POSITIVE, 200),
    ("createResponse", NEGATIVE, 200),
    ("compactResponse", POSITIVE, 100),
    ("compactResponse", NEGATIVE, 100),
    ("listInputItems", POSITIVE, 150),
    ("listInputItems", NEGATIVE, 150),
    ("getResponse", POSITIVE, 100),
    ("deleteResponse", POSITIVE, 100),
    ("listModels", POSITIVE, 10),
]


@pytest.fixture(scope="session")
def api_schema(embedded: TetherServer) -> OpenApiSchema:
    config = SchemathesisConfig.from_dict({"generation": {"deterministic": True}})
    return schemathesis.openapi.from_url(f"{embedded.url}/openapi.json", config=config)


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_the_schema_describes_every_operation_fuzzed_here(api_schema: OpenApiSchema) -> None:
    served = {
        result.ok().definition.raw["operationId"] for result in api_schema.get_all_operations()
    }
    assert served == set(OPERATIONS)


@pytest.mark.parametrize(("operation_id", "mode", "examples"), RUNS, ids=str)
def test_no_generated_request_gets_a_server_error(
    api_schema: OpenApiSchema,
    http: requests.Session,
    tally: Tally,
    operation_id: str,
    mode: GenerationMode,
    examples: int,
) -> None:
    operation = api_schema.find_operation_by_id(operation_id)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call(session=http, timeout=10)
        tally.record("schemathesis", response.status_code)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    check()
