"""Flow runs of the render deployment, created and read the way the Prefect UI does: the API's
only door into Prefect, so that the faces above the flows never import prefect themselves."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from nightcast.errors import NightcastError

DEPLOYMENT = "render-episode/render-episode"


class DeploymentMissing(NightcastError):
    """Nothing serves render-episode yet (`nightcast deploy` has not run against this server)."""


@dataclass(frozen=True)
class RenderRun:
    id: UUID
    parameters: dict
    tags: list[str]
    state: str  # Prefect's state type: SCHEDULED, PENDING, RUNNING, COMPLETED, FAILED, CRASHED, …
    message: str | None


def _run(flow_run) -> RenderRun:
    state = flow_run.state
    return RenderRun(id=flow_run.id, parameters=dict(flow_run.parameters), tags=list(flow_run.tags),
                     state=state.type.value if state else "SCHEDULED", message=state.message if state else None)


def create_render_run(parameters: dict, tags: list[str]) -> RenderRun:
    """A flow run of render-episode with these parameters, for whatever serves the deployment."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(DEPLOYMENT)
        except ObjectNotFound:
            raise DeploymentMissing(f"no {DEPLOYMENT} deployment: run `nightcast deploy`") from None
        return _run(client.create_flow_run_from_deployment(deployment.id, parameters=parameters, tags=tags))


def read_render_run(run_id: UUID) -> RenderRun | None:
    """The run, or None where the server has no such run."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return _run(client.read_flow_run(run_id))
        except ObjectNotFound:
            return None
