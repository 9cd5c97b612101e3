"""The live OpenAPI schema, fuzzed with schemathesis against the real application.

Every operation of ``/api/schema/`` gets a bounded number of generated
requests (fixed seed, derandomized: the same cases every run), sent to the
WSGI application as a platform admin with a real API token, so most
operations reach their 2xx paths. The run fails on any server error and on
any response the schema does not document (status code, content type,
body). The counts are printed at the end of the run.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from apps.accounts.services import api_token_issue
from portal.wsgi import application
from tests.figures import report

raw = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(raw)
schema.app = application

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 12
cases_run: dict[str, int] = {}


@pytest.fixture
def admin_token(admin_user, team, db):
    _, token = api_token_issue(actor=None, user=admin_user)
    # Requests go straight to the WSGI handler, which closes the database
    # connection when a request ends; the test's transaction lives on that
    # connection. Django's own test client unhooks the same signal.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield token
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, admin_token):
    label = case.operation.label
    cases_run[label] = cases_run.get(label, 0) + 1
    try:
        case.call_and_validate(headers={"Authorization": f"Token {admin_token}"}, checks=CHECKS)
    except BaseException:
        failed.add(label)
        raise


failed: set[str] = set()


def test_schemathesis_covered_every_operation():
    """The printed figure; runs after the parametrized test above (file order)."""
    operations = {op.ok().label for op in schema.get_all_operations()}
    report(f"schemathesis: {len(cases_run)} of {len(operations)} operations, {sum(cases_run.values())} cases, "
           f"{len(failed)} operations with a server error or a response the schema does not document")
    assert set(cases_run) == operations
    assert not failed, sorted(failed)
