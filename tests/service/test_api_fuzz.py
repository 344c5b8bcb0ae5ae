"""The render API fuzzed from its own OpenAPI schema (schemathesis): every generated request is sent
with a token for every listener, a token scoped to another listener, and a bad token. No 5xx; every
response matches the schema; no response shows a server path; a scoped token never gets another
listener's data. The outputs folder holds a finished episode and feed of maya's to be found."""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from helpers import DATE

pytestmark = pytest.mark.slow

TOKEN, HIRO_ONLY, WRONG = "t" * 24, "h" * 24, "w" * 24
EXAMPLES = 60  # per operation; each example is sent three times (three tokens)
SENT: list[int] = []


def _api_app():
    """Built at import, as schemathesis wants the schema then; Prefect is only needed once requests run."""
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    from helpers import PROFILES

    from nightcast.api import create_app
    from nightcast.settings import Settings

    outputs = Path(tempfile.mkdtemp(prefix="nightcast-fuzz-"))
    episode = outputs / "maya" / f"{DATE}-nightly-digest"
    episode.mkdir(parents=True)
    (episode / "episode.mp3").write_bytes(b"ID3" + b"\0" * 64)
    (episode / "episode.json").write_text(json.dumps({"files": {"audio": "episode.mp3"}}))
    (outputs / "maya" / "feed.xml").write_text("<rss><channel><title>maya</title></channel></rss>")
    profiles = outputs.parent / f"{outputs.name}-profiles"  # DELETE /v1/listeners/{id} erases from a copy
    shutil.copytree(PROFILES, profiles)
    # made at import, in every process that collects this file (-m "not slow" too): gone at its exit
    atexit.register(shutil.rmtree, profiles, ignore_errors=True)
    atexit.register(shutil.rmtree, outputs, ignore_errors=True)
    settings = Settings(outputs_dir=outputs, profiles_dir=profiles, api_tokens=f"{TOKEN},{HIRO_ONLY}:hiro", api_rate_per_minute=100_000)
    app = create_app(settings)
    app.state.fuzz_paths = [str(outputs), str(settings.profiles_dir), str(settings.cache_root())]
    return app


API = _api_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", API)


@pytest.fixture(scope="module")
def deployed(prefect_harness):
    """POST /v1/renders creates real flow runs of the render deployment (nothing serves them here).
    Runs and deployments are deleted afterwards: the next test that serves the deployments would
    otherwise render them all, and find these deployments before its own."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import DeploymentSort, FlowRunSort

    from nightcast.flows import deployments

    deployments.deploy(API.state.settings)
    yield
    with get_client(sync_client=True) as client:
        while runs := client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["api"])),
                                            limit=200, sort=FlowRunSort.ID_DESC):
            for run in runs:
                client.delete_flow_run(run.id)
        for deployment in client.read_deployments(limit=200, sort=DeploymentSort.NAME_ASC):  # 3.8.8 sends None
            client.delete_deployment(deployment.id)


def _listener_of(case, response) -> str | None:
    """Whose data a successful answer carries: the listener in its path, else in its JSON body."""
    listener = (case.path_parameters or {}).get("listener")
    if listener is None and "json" in response.headers.get("content-type", [""])[0]:
        listener = response.json().get("listener")
    return listener


def _leaks(text: str, app) -> list[str]:
    return [path for path in app.state.fuzz_paths if path and path in text]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_never_errs_never_leaks_and_matches_its_schema(case, deployed):
    api_app = API
    for token in (TOKEN, HIRO_ONLY, WRONG):
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        SENT.append(response.status_code)
        body = response.content.decode("latin-1")  # a zip (an export) is not text
        assert response.status_code < 500, body
        assert not _leaks(body, api_app), body
        # A well-formed id of a listener or template that does not exist is refused (404/422) by design,
        # so "schema-valid data is accepted" cannot hold here; every other check runs.
        case.validate_response(response, excluded_checks=[positive_data_acceptance])
        if token == WRONG:  # refused; what answers first (401, 405, 413, 422) does not matter
            assert response.status_code >= 400, response.status_code
        if token == HIRO_ONLY and response.status_code < 300:
            listener = _listener_of(case, response)
            assert listener in (None, "hiro"), f"a hiro-only token got {listener}'s {case.path}"


def test_the_fuzz_sent_enough_requests_and_none_failed():
    """Runs after the fuzz test in this module (pytest keeps file order)."""
    if not SENT:
        pytest.skip("the fuzz test did not run")
    assert len(SENT) >= 500, len(SENT)
    assert max(SENT) < 500




