"""`nightcast render` as a person runs it, this checkout against another revision, side by side in one run:
seconds until the command prints its first line, and until it exits.

Each round renders the same episode once with each side, alternating, each in its own empty outputs
folder and PREFECT_HOME. Every PREFECT_HOME starts from a copy of one database migrated beforehand, so
what is measured is a command's own start (imports, its temporary Prefect server, the flow), not the
one-off migrations of a first run (`--fresh` counts those too). QA is off: the gate is measured by
`bench/qa_bench.py`. The other revision runs from a git worktree made for the run and removed after.

    python bench/cli_bench.py [--against HEAD~1] [--rounds 3] [--profile maya] [--template nightly-digest] [--fresh]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import site
import statistics
import subprocess
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bare_python(folder: Path) -> str:
    """A virtualenv that sees this environment's packages (a .pth line) but not its editable install of
    nightcast, whose import hook would win over PYTHONPATH: each side imports nightcast from its own tree."""
    venv.create(folder, with_pip=False)
    [packages] = folder.glob("lib/python*/site-packages")
    (packages / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return str(folder / "bin" / "python")


def side_env(tree: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIGHTCAST_", "PREFECT_", "PYTHONPATH"))}
    return {**env, "PYTHONPATH": str(tree), "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def imported_from(python: str, tree: Path, home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)  # also the working folder: `python -c` imports from there first
    out = subprocess.run([python, "-c", "import nightcast; print(nightcast.__file__)"], env=side_env(tree, home),
                         capture_output=True, text=True, check=True, cwd=home).stdout.strip()
    return Path(out).resolve().parent.parent


def migrated_database(python: str, folder: Path) -> Path:
    subprocess.run([python, "-m", "prefect", "server", "database", "upgrade", "-y"], check=True,
                   env=side_env(ROOT, folder), capture_output=True, timeout=600)
    return folder / "prefect.db"


def render_once(python: str, tree: Path, work: Path, database: Path | None,
                args: argparse.Namespace) -> tuple[float, float]:
    """(seconds to the first line printed, seconds to exit) of one `nightcast render`."""
    home = work / "prefect"
    home.mkdir(parents=True)
    if database is not None:
        shutil.copy2(database, home / "prefect.db")
    command = [python, "-m", "nightcast.cli", "render", args.profile, "-t", args.template, "--date", args.date,
               "--out", str(work / "out"), "--no-qa"]
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=side_env(tree, home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=work)
    first = proc.stdout.readline()
    first_s = time.perf_counter() - started
    rest, errors = proc.communicate(timeout=600)
    exit_s = time.perf_counter() - started
    if proc.returncode != 0 or not first:
        raise SystemExit(f"render failed ({tree}):\n{first}{rest}{errors[-3000:]}")
    return first_s, exit_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD~1", help="git revision to compare with (default HEAD~1)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default="maya")
    parser.add_argument("--template", default="nightly-digest")
    parser.add_argument("--date", default="2026-11-23")
    parser.add_argument("--fresh", action="store_true", help="every command migrates a new Prefect database")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    console = Console()
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.against], capture_output=True,
                              text=True, check=True).stdout.strip()
    console.print(f"nightcast cli bench · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
                  f"this checkout against {args.against} ({revision})")
    with tempfile.TemporaryDirectory(prefix="nightcast-cli-bench-") as tmp:
        tmp = Path(tmp)
        other = tmp / "other"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(other), revision], check=True)
        try:
            python = bare_python(tmp / "env")
            sides = {"this checkout": ROOT, revision: other}
            for name, tree in sides.items():
                found = imported_from(python, tree, tmp / "probe")
                if found != tree.resolve():
                    raise SystemExit(f"{name}: nightcast imports from {found}, not {tree}")
            database = None if args.fresh else migrated_database(python, tmp / "migrated")
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
            for round_ in range(args.rounds):
                order = list(sides.items()) if round_ % 2 == 0 else list(reversed(sides.items()))
                for name, tree in order:
                    times[name].append(render_once(python, tree, tmp / f"{round_}-{tree.name}", database, args))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)], check=False)

    table = Table(title=f"nightcast render {args.profile} -t {args.template} --no-qa, median of {args.rounds}")
    for column in ("side", "first line s", "exit s", "each round (first line / exit)"):
        table.add_column(column)
    medians = {}
    for name, runs in times.items():
        medians[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
        table.add_row(name, f"{medians[name][0]:.2f}", f"{medians[name][1]:.2f}",
                      ", ".join(f"{a:.1f} / {b:.1f}" for a, b in runs))
    console.print(table)
    (a_first, a_exit), (b_first, b_exit) = medians["this checkout"], medians[revision]
    print(f"cli: first line {a_first:.2f} s against {b_first:.2f} s, exit {a_exit:.2f} s against {b_exit:.2f} s, "
          f"ratio {b_exit / a_exit:.2f}")


if __name__ == "__main__":
    main()
