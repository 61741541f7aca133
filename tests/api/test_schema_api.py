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


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "patch", "delete"}:
                yield path, method, operation


def test_every_operation_has_a_summary_and_its_own_description(schema):
    texts = {}
    for path, method, operation in operations(schema):
        if path.startswith("/api/schema"):
            continue
        assert operation.get("summary"), (method, path)
        description = operation.get("description", "")
        assert description, (method, path)
        assert "multipart" not in description or method == "post", (method, path)
        texts.setdefault(description, []).append((method, path))
    shared = {text: ops for text, ops in texts.items() if len(ops) > 1}
    assert not shared, shared
    photo = schema["paths"]["/api/v1/photos/{id}/"]
    assert "status" in photo["get"]["description"]
    assert "Delete" in photo["delete"]["description"]


def test_every_error_response_names_its_codes_and_shows_each_as_an_example(schema):
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            examples = response["content"]["application/json"]["examples"]
            assert examples, (method, path, status)
            for example in examples.values():
                body = example["value"]
                assert body["message"] and "string" not in body["message"], body
                assert f"`{body['code']}`" in response["description"], (path, body)


def test_every_operation_documents_the_key_errors_and_the_rate_limit_with_its_number(
    schema, settings
):
    limit, seconds = settings.FACEPASS_RATE_API_KEY
    for path, method, operation in operations(schema):
        if path.startswith("/api/schema"):
            continue
        responses = operation["responses"]
        assert {"401", "429"} <= set(responses), (method, path)
        text = responses["429"]["description"]
        assert f"at most {limit} per {seconds} seconds" in text and "Retry-After" in text
        assert "FACEPASS_" not in text


def test_the_conflicts_are_documented_with_the_vocabulary_codes(schema):
    open_gates = schema["paths"]["/api/v1/events/{id}/open-gates/"]["post"]["responses"]
    assert set(open_gates["409"]["content"]["application/json"]["examples"]) == {
        "EventClosed",
        "FaceOnlyCapacity",
    }
    upload = schema["paths"]["/api/v1/events/{event_id}/holders/{holder_id}/photos/"]["post"]
    assert "`consent_required`" in upload["responses"]["409"]["description"]
    assert "`too_many_photos`" in upload["responses"]["409"]["description"]


def test_success_responses_have_real_examples_and_lists_paginate_with_this_apis_urls(schema):
    without_example = {("/api/v1/events/{event_id}/holders/{id}/export/", "get")}
    for path, method, operation in operations(schema):
        if path.startswith("/api/schema") or (path, method) in without_example:
            continue
        for status, response in operation["responses"].items():
            if status.startswith("2") and "content" in response:
                examples = response["content"]["application/json"].get("examples")
                assert examples, (method, path, status)
    text = yaml.safe_dump(schema)
    assert "api.example.org" not in text
    listed = schema["paths"]["/api/v1/checkins/"]["get"]["responses"]["200"]
    page = next(iter(listed["content"]["application/json"]["examples"].values()))["value"]
    assert page["next"].endswith("/api/v1/checkins/?page=3")
    assert page["results"][0]["decision"] == "admit"


def test_the_multipart_bodies_declare_binary_files_and_the_json_bodies_base64(schema):
    components = schema["components"]["schemas"]
    for path in [
        "/api/v1/events/{event_id}/holders/{holder_id}/photos/",
        "/api/v1/events/{event_id}/verify/",
        "/api/v1/events/{event_id}/identify/",
        "/api/v1/checkins/",
    ]:
        content = schema["paths"][path]["post"]["requestBody"]["content"]
        form = components[content["multipart/form-data"]["schema"]["$ref"].split("/")[-1]]
        body = components[content["application/json"]["schema"]["$ref"].split("/")[-1]]
        assert form["properties"]["image"]["format"] == "binary", path
        assert "image_base64" not in form["properties"], path
        assert "image_base64" in body["properties"] and "image" not in body["properties"]
    checkin = components["CheckInUpload"]["properties"]["images"]
    assert checkin["items"]["format"] == "binary"
