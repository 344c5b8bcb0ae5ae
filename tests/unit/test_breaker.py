"""The circuit breaker's protocol: closed → open after N failures in a row → one probe after the
cool-off → closed on its success, open again on its failure. State is on disk, so two breakers on
the same folder (two processes, two workers) are one breaker."""

import pytest

from nightcast.breaker import CircuitBreaker, openings_between


def breaker(folder, **kw) -> CircuitBreaker:
    return CircuitBreaker.for_backend(folder, "writer openai", "http://llm.internal:8000/v1",
                                      **{"failures": 3, "cooloff_s": 60, **kw})


def test_opens_after_failures_in_a_row_and_a_success_resets_the_count(tmp_path):
    b = breaker(tmp_path)
    for _ in range(2):
        b.record(False, "APITimeoutError", now=100)
    b.record(True, now=101)
    for _ in range(2):
        b.record(False, "APITimeoutError", now=102)
    assert b.allow(now=103) == "closed"
    b.record(False, "APITimeoutError", now=104)
    assert b.allow(now=105) == "open"
    assert "3 failed calls in a row (last: APITimeoutError)" in b.why_open()


@pytest.mark.parametrize("probe_ok, then", [(True, "closed"), (False, "open")])
def test_one_probe_after_the_cooloff_decides(tmp_path, probe_ok, then):
    b, other = breaker(tmp_path), breaker(tmp_path)  # another process's view of the same backend
    for _ in range(3):
        b.record(False, "ConnectionError", now=0)
    assert other.allow(now=59) == "open"
    assert other.allow(now=61) == "probe"
    assert b.allow(now=62) == "open"  # the probe is out: nobody else calls
    other.record(probe_ok, "ConnectionError", now=63)
    assert b.allow(now=64) == then
    [(backend, opening)] = openings_between(tmp_path, 0, 100)
    assert backend == "writer openai http://llm.internal:8000/v1"
    assert (opening.opened_at, opening.closed_at) == (0, 63 if probe_ok else None)


def test_a_probe_that_never_reports_is_replaced_after_the_cooloff(tmp_path):
    b = breaker(tmp_path)
    for _ in range(3):
        b.record(False, "ConnectionError", now=0)
    assert b.allow(now=61) == "probe"  # and its process dies
    assert b.allow(now=100) == "open"
    assert b.allow(now=122) == "probe"


def test_backends_are_apart_and_openings_outside_the_window_are_not_listed(tmp_path):
    a, b = breaker(tmp_path), CircuitBreaker.for_backend(tmp_path, "writer openai", "http://other:8000/v1")
    for _ in range(3):
        a.record(False, "x", now=1000)
    assert b.allow(now=1001) == "closed"
    assert openings_between(tmp_path, 0, 999) == []
    assert len(openings_between(tmp_path, 1000, 2000)) == 1
