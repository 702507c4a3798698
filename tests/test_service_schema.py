"""The API against its own OpenAPI schema (schemathesis): generated requests to every
operation, with the administrator's token, never cause a server error, and every response
matches the documented status codes, content types, headers and schemas.

Two checks are left out where HTTP allows the behaviour: an upload that is valid multipart
but not DICOM is refused with 400 (no schema can say "a DICOM file"), and a 405 lists the
methods of the route matched first (Starlette), not of every route sharing the path.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import allow_header_conformance, positive_data_acceptance

from nenscope.service import Settings, create_app
from service_support import TOKEN

pytestmark = pytest.mark.xdist_group("service_schema")

_DATA = tempfile.TemporaryDirectory(prefix="nenscope-schema-")  # removed at exit
APP = create_app(Settings(data_dir=Path(_DATA.name), token=TOKEN))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_schema(case):
    excluded = [allow_header_conformance]
    # a schema-valid upload that is not DICOM, and scenario inputs that do not apply to the
    # scenario (--genotype for MTC), are rightly refused with 400: the schema cannot say so
    if case.method == "POST" and case.operation.path in ("/api/studies", "/api/protocol"):
        excluded.append(positive_data_acceptance)
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=excluded)
