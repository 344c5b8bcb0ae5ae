"""The Prefect API a nightcast command talks to: PREFECT_API_URL's server when one is set, otherwise a
temporary server of its own that never outlives the command.

Prefect's own temporary server is stopped by an `atexit` hook, so a command killed with SIGKILL (or
stopped by a signal Python does not turn into an exit) leaves it running with no parent, for good.
This one is the same uvicorn app, run by this module as a child that watches its parent: when the
parent is gone, however it went, the child stops within `WATCH_S`.

    python -m nightcast.flows.prefect_server --parent PID --port PORT   (started by `prefect_api()`)
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager

import httpx

WATCH_S = 0.5
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
GRACEFUL_SHUTDOWN_S = 1.0  # open connections get this long to finish before the server closes them
CHILD_MODULE = "nightcast.flows.prefect_server"
# The URL of the temporary server in use, for this process and the ones it starts: a temporary
# server runs no services, so nightcast does the lease keeping itself (flows/limits.py).
TEMPORARY_URL_ENV = "NIGHTCAST_TEMPORARY_PREFECT_API"


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(process: subprocess.Popen, url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_server(attempts: int = 3, while_starting: Callable[[], object] | None = None) -> tuple[subprocess.Popen, str]:
    """A temporary server on a free port, up and healthy: the process and its API URL.
    `while_starting` runs here once the first server process is launched, before waiting for it."""
    from prefect.settings import get_current_settings

    env = {**os.environ, **get_current_settings().to_environment_variables(exclude_unset=True)}
    env.pop("PREFECT_API_URL", None)
    for _ in range(attempts):  # another process may take the free port before the server binds it
        port = _free_port()
        url = f"http://127.0.0.1:{port}/api"
        process = subprocess.Popen([sys.executable, "-m", CHILD_MODULE, "--parent", str(os.getpid()),
                                    "--port", str(port)], env=env, stdin=subprocess.DEVNULL)
        if while_starting is not None:
            try:
                while_starting()
            except BaseException:
                _stop(process)
                raise
            while_starting = None
        if _wait_healthy(process, url, START_TIMEOUT_S):
            return process, url
        _stop(process)
    raise RuntimeError(f"the temporary Prefect server did not start (tried {attempts} ports)")


@contextmanager
def prefect_api(while_starting: Callable[[], object] | None = None) -> Iterator[str | None]:
    """Run the body against PREFECT_API_URL, or against a temporary server of this process's own;
    yields the URL in use (None when Prefect's settings name one already).

    `while_starting` is called once either way; with a temporary server, while the server boots
    (about 4 s of its own imports, about 10 s with a new database's migrations), so work such as
    the command's own imports overlaps it."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if get_current_settings().api.url:
        if while_starting is not None:
            while_starting()
        yield None
        return
    process, url = start_server(while_starting=while_starting)
    os.environ["PREFECT_API_URL"] = os.environ[TEMPORARY_URL_ENV] = url  # subprocesses use the same server
    try:
        with temporary_settings({PREFECT_API_URL: url}):
            yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        os.environ.pop(TEMPORARY_URL_ENV, None)
        _stop(process)


def _exit_when_orphaned(parent: int) -> None:
    """Stop this server once `parent` is gone: SIGTERM to ourselves (uvicorn shuts down cleanly),
    then a hard exit if that has not happened in STOP_TIMEOUT_S."""
    while os.getppid() == parent:
        time.sleep(WATCH_S)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(STOP_TIMEOUT_S)
    os._exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description="nightcast's temporary Prefect server (a child process)")
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if os.getppid() != args.parent:
        sys.exit("the parent exited before its Prefect server started")
    threading.Thread(target=_exit_when_orphaned, args=(args.parent,), daemon=True, name="parent-watch").start()
    # What Prefect's own temporary server sets: no UI, and the server knows it is ephemeral.
    os.environ.update({"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"})
    import uvicorn

    # A served runner keeps a websocket open to its server: without a bound on the graceful shutdown,
    # uvicorn waits out STOP_TIMEOUT_S for it and `deploy --serve` took 15 s to stop on SIGTERM.
    uvicorn.run("prefect.server.api.server:create_app", factory=True, host="127.0.0.1", port=args.port,
                log_level="error", lifespan="on", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)


if __name__ == "__main__":
    main()
