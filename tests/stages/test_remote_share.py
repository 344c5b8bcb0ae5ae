"""Only what a segment needs leaves this machine: the openai writer at a non-loopback address of
this machine (a test server that records every request) is sent the minimal data block, never the
full name, interests, mood list, avoid list, play counts or past episodes, nor a request's words;
the script and the manifest say what was shared and with whom."""

from __future__ import annotations

import json
import re
import socket

import pytest

from nightcast.generators.script.llm.openai_chat import is_loopback_url
from nightcast.generators.script.llm.prompts import MINIMAL_SHARE, field_paths

from chat_server import ChatServer, completion, good_draft, segment_data
from test_llm_writer import settings_for, write

# maya.yaml's text outside the minimal set: in no request at all. And fields no data block may have.
NEVER_SENT = ["Okafor", "astronomy", "late-night baking", "smooth jazz"]
NEVER_FIELDS = {"plays", "last_played", "previous_episodes", "do_not_repeat", "favourite_genres", "interests",
                "moods", "avoid"}


@pytest.mark.parametrize(("url", "loopback"), [
    ("http://127.0.0.1:8000/v1", True), ("http://localhost:8000/v1", True), ("http://[::1]:8000/v1", True),
    ("http://127.8.9.10/v1", True), ("http://192.0.2.2:8000/v1", False), ("http://10.0.0.7/v1", False),
    ("https://no-such-host.invalid/v1", False), ("http://[fd00::2]:8000/v1", False), ("not a url", False),
])
def test_only_loopback_counts_as_this_machine(url, loopback):
    assert is_loopback_url(url) is loopback


def other_address() -> str:
    """An address of this machine that is not loopback, to play a remote server on."""
    candidates = set()
    for family in (socket.AF_INET,):
        try:
            candidates |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, family)}
        except OSError:
            pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: it only picks the outgoing interface
            candidates.add(probe.getsockname()[0])
    except OSError:
        pass
    for address in sorted(candidates):
        if not is_loopback_url(f"http://{address}/"):
            try:
                with socket.socket() as sock:
                    sock.bind((address, 0))
                return address
            except OSError:
                continue
    pytest.skip("this machine has no address but loopback")


def minimal(path: str, shape: dict = MINIMAL_SHARE) -> bool:
    """Whether a dotted field path is inside MINIMAL_SHARE (a None there allows all beneath it)."""
    head, _, rest = path.partition(".")
    if head not in shape:
        return False
    inner = shape[head]
    return inner is None or not rest or minimal(rest, inner)  # no rest: the key itself, sent as null


def test_a_remote_writer_gets_the_minimal_block_and_the_script_says_so(maya, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with ChatServer(lambda payload: (200, completion(json.dumps(good_draft(payload)))), host=other_address()) as server:
        script = write(maya, settings_for("openai", writer_url=server.url))
    assert server.requests and script.fallbacks == []
    for payload in server.requests:
        data = segment_data(payload)
        assert [path for path in field_paths(data) if not minimal(path)] == []
        assert not NEVER_FIELDS & {part for path in field_paths(data) for part in path.split(".")}
        sent = json.dumps(payload["messages"])
        assert not [word for word in NEVER_SENT if word in sent]
    assert script.shared is not None and script.shared.with_url == server.url and script.shared.policy == "minimal"
    assert "listener.first_name" in script.shared.fields and "listener.interests" not in script.shared.fields
    assert all(minimal(path) for path in script.shared.fields)
    assert not minimal("listener.interests") and not minimal("pick.listener_track.plays") and minimal("facts.0")


def test_full_sharing_is_a_choice_and_loopback_shares_nothing(maya, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with ChatServer(lambda payload: (200, completion(json.dumps(good_draft(payload)))), host=other_address()) as server:
        script = write(maya, settings_for("openai", writer_url=server.url, remote_share="full"))
    assert script.shared.policy == "full" and "listener.interests" in script.shared.fields
    assert "astronomy" in json.dumps(server.requests[-1]["messages"][-1]["content"])
    with ChatServer(lambda payload: (200, completion(json.dumps(good_draft(payload))))) as local:
        script = write(maya, settings_for("openai", writer_url=local.url))
    assert script.shared is None  # nothing left this machine
    assert "interests" in segment_data(local.requests[-1])["listener"]


def test_a_request_sent_to_a_remote_writer_is_read_here(maya, monkeypatch):
    from nightcast.generators.script import load_writer
    from nightcast.generators.script.llm.openai_chat import OpenAIWriter

    from helpers import TEMPLATES

    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with ChatServer(lambda payload: (200, completion("{}")), host=other_address()) as server:
        load_writer.cache_clear()
        writer = OpenAIWriter(TEMPLATES, settings_for("openai", writer_url=server.url))
        read = writer.read_request("more Alice Coltrane, and my sister Joan says hi", maya, None)
    assert server.requests == []  # the words never left
    assert read.interpreter.startswith("parser") and re.search("Alice Coltrane", " ".join(read.understood))


@pytest.fixture
def maya():
    from nightcast.data_files import load_profile

    from helpers import PROFILES

    return load_profile(PROFILES / "maya.yaml")
