"""Rich progress for the CLI: one line per pipeline stage, fed by nightcast.progress events."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from nightcast import progress

STAGES = ("script", "speech", "music", "mix", "master")


class StageProgress:
    def __init__(self, console: Console, title: str):
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                  console=console, transient=False)
        self._title = title
        self._tasks: dict[str, int] = {}
        self._unsubscribe = None

    def __enter__(self) -> StageProgress:
        self._progress.console.print(f"[bold]nightcast[/] {self._title}", highlight=False)
        self._progress.start()
        self._boot = self._progress.add_task("starting Prefect flow", total=1)
        self._unsubscribe = progress.subscribe(self._on_event)
        return self

    def _on_event(self, stage: str, event: str, seconds: float | None) -> None:
        if self._boot is not None:
            self._progress.update(self._boot, completed=1, description="Prefect flow running")
            self._boot = None
        if event == "start":
            self._tasks[stage] = self._progress.add_task(stage, total=1)
        elif event == "done":
            self._progress.update(self._tasks[stage], completed=1, description=f"{stage} [dim]{seconds:.1f}s[/]")
        else:
            self._progress.update(self._tasks[stage], description=f"[red]{stage} failed[/]")

    def __exit__(self, *exc) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        self._progress.stop()
