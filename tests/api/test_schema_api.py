import pytest
import yaml
from django.core.management import call_command

NEW_OPERATIONS = {
    "/api/v1/events/{event_id}/holders/{id}/registration-link/": ["post"],
    "/api/v1/events/{event_id}/holders/{id}/consent/": ["post"],
    "/api/v1/events/{event_id}/holders/{id}/biometrics/": ["delete"],
    "/api/v1/events/{event_id}/holders/{holder_id}/photos/": ["get", "post"],
    "/api/v1/photos/{id}/": ["get", "delete"],
    "/api/v1/events/{event_id}/verify/": ["post"],
    "/api/v1/events/{event_id}/identify/": ["post"],
    "/api/v1/checkins/": ["get", "post"],
    "/api/v1/checkins/{id}/": ["get"],
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        # Raises on any error or warning, so the schema is complete and valid OpenAPI.
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_the_schema_validates_without_warnings_and_has_every_new_operation(schema):
    for path, methods in NEW_OPERATIONS.items():
        assert path in schema["paths"], path
        assert set(methods) <= set(schema["paths"][path]), path


def test_image_endpoints_accept_multipart_and_json_and_document_their_errors(schema):
    for path in [
        "/api/v1/events/{event_id}/verify/",
        "/api/v1/events/{event_id}/identify/",
        "/api/v1/checkins/",
    ]:
        operation = schema["paths"][path]["post"]
        content = operation["requestBody"]["content"]
        assert {"multipart/form-data", "application/json"} <= set(content)
        assert {"400", "401", "404", "413", "422", "503"} <= set(operation["responses"])
    photo_upload = schema["paths"]["/api/v1/events/{event_id}/holders/{holder_id}/photos/"]
    assert {"202", "409", "413"} <= set(photo_upload["post"]["responses"])
    checkin = schema["paths"]["/api/v1/checkins/"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in checkin["parameters"])
