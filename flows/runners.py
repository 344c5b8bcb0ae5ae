"""Where a render's tasks run: local threads, or an existing Dask or Ray cluster.

The choice is configuration (`task_runner`, `cluster_address`), read when a flow run starts, so the
same deployment runs on threads on a laptop and on a cluster in production. The cluster engines are
Prefect's own integrations (prefect-dask, prefect-ray); stage files go to the outputs and cache
folders, so every cluster worker must see them at the same paths (a shared volume).
"""

from __future__ import annotations

from typing import Any

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from nightcast.errors import InputError
from nightcast.settings import Settings

EXTRAS = {"dask": ("prefect_dask", "DaskTaskRunner"), "ray": ("prefect_ray", "RayTaskRunner")}


def task_runner_for(settings: Settings) -> TaskRunner:
    if settings.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=settings.max_threads)
    module_name, class_name = EXTRAS[settings.task_runner]
    try:
        module = __import__(module_name, fromlist=[class_name])
    except ImportError:
        raise InputError(f"task_runner '{settings.task_runner}' needs {module_name.replace('_', '-')}: "
                         f"pip install 'nightcast[{settings.task_runner}]'", source="settings",
                         field="task_runner") from None
    runner = getattr(module, class_name)
    # no address: the integration starts a temporary local cluster for the run
    return runner(address=settings.cluster_address) if settings.cluster_address else runner()


class ConfiguredTaskRunner(TaskRunner):
    """Delegates to the runner the settings name, chosen as the flow run starts (a flow's
    decorator runs at import, before a worker's configuration is known)."""

    def __init__(self):
        self._inner: TaskRunner | None = None
        super().__init__()

    @property
    def name(self) -> str:
        return f"configured:{self._inner.name}" if self._inner else "configured"

    def duplicate(self) -> ConfiguredTaskRunner:
        return type(self)()

    def __enter__(self) -> ConfiguredTaskRunner:
        self._inner = task_runner_for(Settings.from_env()).__enter__()
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._inner is not None:
                self._inner.__exit__(*exc)
        finally:
            self._inner = None
            super().__exit__(*exc)

    def submit(self, task, parameters, wait_for=None, dependencies=None):
        return self._inner.submit(task, parameters, wait_for=wait_for, dependencies=dependencies)
