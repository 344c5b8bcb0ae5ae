"""The render API (`nightcast serve`): start renders, follow them, fetch feeds and episodes.

A render is a flow run of the `render-episode` deployment, created through Prefect's client exactly
as the UI creates one; whatever serves that deployment (`nightcast deploy --serve`, or workers on the
`cpu` pool) runs it. The API resolves the template and date up front, so it knows where the episode
will be and can answer with its URLs once the run completes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from uuid import UUID

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from nightcast import __version__
from nightcast.api.auth import Grant, RateLimiter, client_grant, parse_tokens
from nightcast.data_files import load_template
from nightcast.episode_store import EPISODE_FILES, SERVED_FILES, EpisodeStore
from nightcast.errors import InputError
from nightcast.profile_store import open_store
from nightcast.render.job import parse_date
from nightcast.render.request import RenderRequest
from nightcast.schema import LISTENER_ID_PATTERN, NAME_PATTERN
from nightcast.settings import Settings

MAX_BODY_BYTES = 16 * 1024
EPISODE_ID_PATTERN = r"^\d{4}-\d{2}-\d{2}-[a-z0-9][a-z0-9_-]{0,63}$"

ListenerId = Annotated[str, PathParam(pattern=LISTENER_ID_PATTERN, examples=["maya"])]
EpisodeId = Annotated[str, PathParam(pattern=EPISODE_ID_PATTERN, examples=["2026-11-23-nightly-digest"])]
FileName = Annotated[str, PathParam(examples=["episode.mp3", "episode.json", "transcript.vtt"])]


class ApiRenderRequest(RenderRequest):
    """The render request, over HTTP: a listener by id only (never a path on this server)."""

    listener: str = Field(pattern=LISTENER_ID_PATTERN, description="A listener id in the profile store.",
                          examples=["maya"])
    template: str | None = Field(default=None, pattern=NAME_PATTERN,
                                 description=RenderRequest.model_fields["template"].description)


class ErrorBody(BaseModel):
    detail: str


# Every route may answer these; documented so that clients (and the schema fuzz test) expect them.
ERRORS = {
    401: {"model": ErrorBody, "description": "Missing or invalid bearer token."},
    404: {"model": ErrorBody, "description": "No such thing, or not this token's listener (the same answer)."},
    413: {"model": ErrorBody, "description": f"Request body over {MAX_BODY_BYTES} bytes."},
    429: {"model": ErrorBody, "description": "Over this token's requests per minute (api_rate_per_minute)."},
}


class EpisodeLinks(BaseModel):
    audio: str
    feed: str
    manifest: str


class RenderStatus(BaseModel):
    id: UUID
    listener: str
    episode_id: str
    state: str = Field(description="Prefect's state: SCHEDULED, PENDING, RUNNING, COMPLETED, FAILED, CRASHED, …")
    message: str | None = None
    episode: EpisodeLinks | None = Field(default=None, description="Set once the render has completed.")


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="nightcast render API", version=__version__, responses=ERRORS,
                  description="Render personalised episodes and fetch them. Bearer-token auth on every route.")
    app.state.settings = settings
    app.state.grants = parse_tokens(settings.api_tokens.get_secret_value() if settings.api_tokens else "")
    app.state.limiter = RateLimiter(settings.api_rate_per_minute)
    store = EpisodeStore(Path(settings.outputs_dir).resolve())

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, status_code=413)
        if request.method in ("POST", "PUT", "PATCH") and declared is None:
            if len(await request.body()) > MAX_BODY_BYTES:  # chunked: count what actually arrived
                return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, status_code=413)
        return await call_next(request)

    def visible(grant: Grant, listener: str) -> None:
        if not grant.may_see(listener):
            raise HTTPException(404, "not found")  # the same answer as a listener that does not exist

    def links(listener: str, episode_id: str) -> EpisodeLinks | None:
        audio = store.file(listener, episode_id, "audio")
        if audio is None:
            return None
        base = f"/v1/episodes/{listener}/{episode_id}"
        return EpisodeLinks(audio=f"{base}/{audio.name}", feed=f"/v1/listeners/{listener}/feed.xml",
                            manifest=f"{base}/{EPISODE_FILES['manifest']}")

    @app.post("/v1/renders", status_code=202, response_model=RenderStatus,
              responses={400: {"model": ErrorBody, "description": "The body is not JSON."},
                         503: {"model": ErrorBody, "description": "Nothing serves render-episode yet."}})
    def start_render(body: ApiRenderRequest, grant: Grant = Depends(client_grant)) -> RenderStatus:
        from nightcast.flows.runs import DeploymentMissing, create_render_run

        visible(grant, body.listener)
        try:
            profile = open_store(settings.profiles_dir, settings.profile_db).load(body.listener)
            template_name = body.template or profile.template
            if template_name is None:
                raise InputError("no template given and none in the profile", field="template")
            template = load_template(template_name, settings.templates_dir)
        except InputError as exc:
            if exc.field == "listener":  # no such listener
                raise HTTPException(404, "not found") from None
            # the shape FastAPI gives its own 422s (documented as HTTPValidationError): one client parser
            raise HTTPException(422, [{"loc": ["body", exc.field or "body"], "msg": str(exc), "type": "value_error"}]) \
                from None
        date = parse_date(body.date, profile)
        parameters = body.model_copy(update={"template": template.id, "date": date}).model_dump(mode="json",
                                                                                                 exclude_none=True)
        try:
            run = create_render_run(parameters, tags=["api", f"listener:{body.listener}"])
        except DeploymentMissing as exc:
            raise HTTPException(503, str(exc)) from None
        return RenderStatus(id=run.id, listener=body.listener, episode_id=f"{date.isoformat()}-{template.id}",
                            state=run.state)

    @app.get("/v1/renders/{run_id}", response_model=RenderStatus)
    def render_status(run_id: UUID, grant: Grant = Depends(client_grant)) -> RenderStatus:
        from nightcast.flows.runs import read_render_run

        run = read_render_run(run_id)
        if run is None:
            raise HTTPException(404, "not found")
        listener = str(run.parameters.get("listener", ""))
        if "api" not in run.tags or not grant.may_see(listener):
            raise HTTPException(404, "not found")
        episode_id = f"{run.parameters.get('date')}-{run.parameters.get('template')}"
        return RenderStatus(id=run.id, listener=listener, episode_id=episode_id, state=run.state, message=run.message,
                            episode=links(listener, episode_id) if run.state == "COMPLETED" else None)

    @app.get("/v1/listeners/{listener}/feed.xml", response_class=FileResponse)
    def feed(listener: ListenerId, grant: Grant = Depends(client_grant)):
        visible(grant, listener)
        path = store.feed_path(listener)
        if not path.is_file():
            raise HTTPException(404, "not found")
        return FileResponse(path, media_type="application/rss+xml")

    @app.get("/v1/episodes/{listener}/{episode}/{name}", response_class=FileResponse)
    def episode_file(listener: ListenerId, episode: EpisodeId, name: FileName, grant: Grant = Depends(client_grant)):
        """An episode's files (episode.mp3 and friends); range requests for seeking."""
        visible(grant, listener)
        path = store.episode_dir(listener, episode) / name  # name is checked against SERVED_FILES first
        if name not in SERVED_FILES or not path.is_file():
            raise HTTPException(404, "not found")
        return FileResponse(path)  # Starlette answers Range with 206 and Content-Range

    return app
