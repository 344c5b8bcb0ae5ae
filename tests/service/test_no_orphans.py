"""Every command that starts a temporary Prefect server takes it down when it ends, by any signal:
killed with SIGKILL mid-run, nothing it started is left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from helpers import DATE, PROFILES

pytestmark = pytest.mark.slow

CHILD = "nightcast.flows.prefect_server"

COMMANDS = {
    "render": ["render", str(PROFILES / "maya.yaml"), "--date", str(DATE)],
    "nightly": ["nightly", "--date", str(DATE)],
    "serve": ["serve", "--port", "0"],
    "deploy --serve": ["deploy", "--serve"],
}


def _server_child(parent: psutil.Process, timeout_s: float = 90.0) -> tuple[psutil.Process, int]:
    """The command's Prefect server, once it answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in parent.children(recursive=True):
            try:
                cmdline = child.cmdline()
            except psutil.NoSuchProcess:
                continue
            if CHILD in cmdline:
                port = int(cmdline[cmdline.index("--port") + 1])
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                        return child, port
                except httpx.TransportError:
                    pass
        assert parent.is_running() and parent.status() != psutil.STATUS_ZOMBIE, "the command ended early"
        time.sleep(0.2)
    raise AssertionError(f"no Prefect server child answered within {timeout_s:.0f} s")


# How each command is stopped: SIGKILL, which runs no handler at all, and SIGTERM to the API server,
# which uvicorn turns into a clean shutdown (a render's Python dies of SIGTERM like of SIGKILL).
STOPPED_BY = {"render": "SIGKILL", "nightly": "SIGKILL", "serve": "SIGTERM", "deploy --serve": "SIGKILL"}


def test_a_killed_command_leaves_no_prefect_server_behind(tmp_path, prefect_home):
    """All four at once, each in its own PREFECT_HOME: the four start-ups overlap."""
    procs = {}
    try:
        for command, args in COMMANDS.items():
            home = tmp_path / command.replace(" ", "_")
            home.mkdir()
            env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
            env.update(PREFECT_HOME=str(prefect_home(home / "prefect")), NIGHTCAST_OUTPUTS_DIR=str(home / "out"),
                       NIGHTCAST_API_TOKENS="orphan-test-token", PREFECT_SERVER_ANALYTICS_ENABLED="false")
            procs[command] = subprocess.Popen([sys.executable, "-m", "nightcast.cli", *args], env=env, cwd=home,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers = {command: _server_child(psutil.Process(proc.pid)) for command, proc in procs.items()}
        for command, proc in procs.items():
            proc.send_signal(getattr(signal, STOPPED_BY[command]))
        left = []
        for command, proc in procs.items():
            proc.wait(timeout=60)
            server, port = servers[command]
            try:
                server.wait(timeout=20)  # the child looks for its parent every half second
            except psutil.TimeoutExpired:
                left.append(f"`nightcast {command}` got {STOPPED_BY[command]}; its Prefect server on :{port} runs on")
        assert not left, left
        assert not [p for p in psutil.process_iter(["cmdline"]) if CHILD in (p.info["cmdline"] or [])
                    and any(str(proc.pid) in p.info["cmdline"] for proc in procs.values())]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_deploy_serve_stops_within_seconds_of_sigterm(tmp_path, prefect_home):
    """What a process manager sends first: SIGTERM ends the served deployments and their server promptly
    (it took 15 s, past most managers' grace before SIGKILL, while the server waited on the runner's socket)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(prefect_home(tmp_path / "prefect")), NIGHTCAST_OUTPUTS_DIR=str(tmp_path / "out"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "nightcast.cli", "deploy", "--serve"], env=env, cwd=tmp_path,
                                stdout=sink, stderr=subprocess.STDOUT)
    try:
        server, _ = _server_child(psutil.Process(proc.pid))
        deadline = time.monotonic() + 90
        while "being served" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        stopped_s = time.monotonic() - sent
        assert stopped_s < 6.0, f"deploy --serve took {stopped_s:.1f} s to stop"
        server.wait(timeout=15)  # and its Prefect server goes too (it watches its parent)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
