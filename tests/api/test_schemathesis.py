"""Property-based check of the whole public API (``/api/v1``, seed 004's operator API, seed 001's
shop API) from its own OpenAPI schema (schemathesis): valid and invalid requests, generated per
operation, sent with an API key holding every permission to a real server process on the test
database; no answer may be a server error, and documented answers must match the schema. The
endless event stream (``/api/v1/events``) is left out: it has its own tests.

Each operation runs in a clean database seeded with one company whose ids are small (1, 2, …),
so generated ids often hit real rows. Examples are few to keep the run short."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.domain.api_keys import SCOPES, create_api_key
from app.domain.channels import ensure_sandbox_channel
from app.domain.orders import create_order
from app.main import create_app
from app.settings import Settings
from tests.browser.conftest import run
from tests.factories import make_company, make_department, make_user


@pytest.fixture
def api_key(live_server) -> str:
    async def seed() -> str:
        company = await make_company("Fuzzed Shop")
        await ensure_sandbox_channel(company.id)
        department = await make_department(company, "Ventes")
        await make_user(company, presence="online", departments=[department])
        await create_order(
            company.id, {"phone": "+33612345678", "name": "Zoé", "items": [{"name": "A", "price": "1.50"}]}
        )
        _, key = await create_api_key(
            company.id, {"name": "fuzz", "scopes": list(SCOPES), "rate_limit": 100_000}, user_id=None
        )
        return key

    return run(seed())


def _app_schema() -> dict:
    """The schema the app serves at /schema/openapi.json, built by the same code (no server
    needed at collection; schemathesis' lazy fixture loader does not run on pytest 9)."""
    app = create_app(Settings(database_url="postgresql://unused@/unused", secret_key="x" * 32), migrate=False)
    return app.openapi_schema.to_schema()


schema = (
    schemathesis.openapi.from_dict(_app_schema()).include(path_regex=r"^/api/").exclude(path_regex=r"^/api/v1/events")
)


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_answers_a_server_error(case, api_key, live_server):
    response = case.call(base_url=live_server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10)
    case.validate_response(
        response,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
