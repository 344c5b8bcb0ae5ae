"""The API's data-rights routes: a listener's export and erasure, each only with a token for that
listener (or the operator's); another listener's token gets the same 404 as a listener that does not
exist. Erasure answers with a receipt and is idempotent."""

from __future__ import annotations

import io
import zipfile

import pytest
import yaml

from helpers import PROFILES

pytestmark = pytest.mark.slow

OPERATOR, ANA, HIRO = "o" * 24, "a" * 24, "h" * 24


@pytest.fixture
def api(prefect_harness, tmp_path):
    from fastapi.testclient import TestClient

    from nightcast.api import create_app
    from nightcast.settings import Settings

    profiles = tmp_path / "profiles"
    profiles.mkdir()
    ana = yaml.safe_load((PROFILES / "maya.yaml").read_text()) | {"id": "ana-rights", "name": "Ana Rights"}
    (profiles / "ana-rights.yaml").write_text(yaml.safe_dump(ana))
    (profiles / "hiro.yaml").write_text((PROFILES / "hiro.yaml").read_text())
    episode = tmp_path / "out" / "ana-rights" / "2026-11-23-nightly-digest"
    episode.mkdir(parents=True)
    (episode / "episode.mp3").write_bytes(b"ID3" + b"\0" * 64)
    settings = Settings(outputs_dir=tmp_path / "out", profiles_dir=profiles,
                        api_tokens=f"{OPERATOR},{ANA}:ana-rights,{HIRO}:hiro")
    return TestClient(create_app(settings)), tmp_path


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_listener_exports_and_erases_their_own_data_and_no_one_elses(api):
    client, root = api
    assert client.get("/v1/listeners/ana-rights/export", headers=auth(HIRO)).status_code == 404
    assert client.delete("/v1/listeners/ana-rights", headers=auth(HIRO)).status_code == 404

    exported = client.get("/v1/listeners/ana-rights/export", headers=auth(ANA))
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        assert {"holdings.json", "profile.yaml", "episodes/2026-11-23-nightly-digest/episode.mp3"} <= set(
            archive.namelist())
    assert str(root) not in exported.content.decode("latin-1")  # no server path in what a listener gets

    receipt = client.delete("/v1/listeners/ana-rights", headers=auth(ANA))
    assert receipt.status_code == 200
    body = receipt.json()
    assert body["listener_id"] == "ana-rights" and any("episode(s)" in line for line in body["removed"])
    assert not (root / "profiles" / "ana-rights.yaml").exists() and not (root / "out" / "ana-rights").exists()
    assert (root / "profiles" / "hiro.yaml").exists()
    assert str(root) not in receipt.text

    again = client.delete("/v1/listeners/ana-rights", headers=auth(OPERATOR))
    assert again.status_code == 200 and again.json()["removed"] == [] and again.json()["redacted"] == []
    assert client.get("/v1/listeners/ana-rights/export", headers=auth(OPERATOR)).status_code == 404
