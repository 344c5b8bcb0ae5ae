"""The nightly flow renders every listener in the store; a broken profile fails alone and is reported."""

import json

import yaml

from nightcast.flows.nightly import nightly

from helpers import DATE, PROFILES


def test_nightly_renders_every_listener_and_reports_the_broken_one(prefect_harness, rendered, tmp_path, monkeypatch):
    store = tmp_path / "profiles"
    store.mkdir()
    for name in ("maya", "hiro"):
        data = yaml.safe_load((PROFILES / f"{name}.yaml").read_text())
        data["template"] = "nightly-digest"
        (store / f"{name}.yaml").write_text(yaml.safe_dump(data))
    (store / "zed.yaml").write_text("id: zed\nname: Zed\nfavourite_artists: Daft Punk\n")  # a name, not a list
    monkeypatch.setenv("NIGHTCAST_PROFILES_DIR", str(store))
    monkeypatch.setenv("NIGHTCAST_NIGHTLY_CONCURRENCY", "2")
    # the shared renders already synthesised this speech: reuse their cache (read-only in effect)
    monkeypatch.setenv("NIGHTCAST_CACHE_DIR", str(rendered.cache_holding("maya", "hiro")))
    out = tmp_path / "outputs"

    report = nightly(date=DATE, out_dir=str(out))

    assert report.listeners == 3
    assert sorted(report.rendered) == ["hiro", "maya"]
    for listener, episode_dir in report.rendered.items():
        assert (out / listener / "2026-11-23-nightly-digest" / "episode.mp3").stat().st_size > 100_000
        assert (out / listener / "feed.xml").is_file()
    assert list(report.failed) == ["zed"]
    assert "favourite_artists" in report.failed["zed"] and "zed.yaml" in report.failed["zed"]
    assert not (out / "zed").exists()
    assert "❌" in report.markdown() and "2 of 3 listeners rendered" in report.markdown()


def test_the_summary_says_when_each_breaker_was_open_and_what_it_cost(tmp_path):
    from nightcast.breaker import CircuitBreaker, clock
    from nightcast.flows.nightly import breaker_lines

    writer = CircuitBreaker.for_backend(tmp_path / "breakers", "writer openai", "http://llm:8000/v1", failures=2)
    pool = CircuitBreaker.for_backend(tmp_path / "breakers", "gpu stage", "music-stage/gpu", failures=1)
    for _ in range(2):
        writer.record(False, "APITimeoutError", now=1000)
    writer.record(True, now=2800)
    pool.record(False, "no worker started it in 300 s", now=1500)
    episodes = []
    for n, reason in enumerate([f"{writer.backend}: circuit open since …", f"CircuitOpen: {writer.backend}: circuit open",
                                "DraftRejected: too long"]):
        folder = tmp_path / f"ep{n}"
        folder.mkdir()
        (folder / "episode.json").write_text(json.dumps({"writer_fallbacks": [{"reason": reason}]}))
        episodes.append(str(folder))
    assert breaker_lines(tmp_path / "breakers", 900, 3000, episodes) == [
        f"writer openai http://llm:8000/v1 open {clock(1000)}–{clock(2800)}, 2 episodes from the template writer",
        f"gpu stage music-stage/gpu open {clock(1500)}–still open, its stages ran in the renders themselves"]
    assert breaker_lines(tmp_path / "breakers", 3000, 4000, episodes)[0].startswith("gpu stage")
