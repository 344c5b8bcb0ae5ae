"""The render API (`nightcast serve`): start renders, follow them, fetch feeds and episodes.

A render is a flow run of the `render-episode` deployment, created through Prefect's client exactly
as the UI creates one; whatever serves that deployment (`nightcast deploy --serve`, or workers on the
`cpu` pool) runs it. The API resolves the template and date up front, so it knows where the episode
will be and can answer with its URLs once the run completes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Literal
from uuid import UUID

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from nightcast import __version__
from nightcast.api.auth import Grant, RateLimiter, client_grant, parse_tokens
from nightcast.data_files import load_template
from nightcast.episode_store import EPISODE_FILES, EPISODE_ID_PATTERN, SERVED_FILES, EpisodeStore
from nightcast.errors import InputError, TooManyMessages
from nightcast.publish.page import with_feedback
from nightcast.render.job import parse_date
from nightcast.render.request import RenderRequest
from nightcast.rights.forget import ErasureReceipt
from nightcast.schema import LISTENER_ID_PATTERN, NAME_PATTERN, Feedback, FeedbackVerdict, StoredRequest
from nightcast.untrusted import NOTE_MAX_CHARS, REQUEST_MAX_CHARS
from nightcast.settings import Settings

MAX_BODY_BYTES = 16 * 1024

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


class RequestBody(BaseModel):
    """A listener's request in their own words; it steers their next episode and is never read aloud."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=REQUEST_MAX_CHARS,
                      examples=["more Alice Coltrane tonight, and keep the talking short"])


class FeedbackBody(BaseModel):
    """A verdict on one segment (a pick) of a published episode."""

    model_config = ConfigDict(extra="forbid")
    segment: str = Field(pattern=NAME_PATTERN, examples=["s02-pick"], description="Segment id from script.json.")
    verdict: FeedbackVerdict = Field(description="like: its artist ranks up; skip: the track sits out the next "
                                                 "episodes, then ranks lower; never: never played again.")
    target: Literal["track", "artist"] = Field(default="track", description="What a skip or never applies to.")
    note: str | None = Field(default=None, max_length=NOTE_MAX_CHARS)


# Every route may answer these; documented so that clients (and the schema fuzz test) expect them.
ERRORS = {
    400: {"model": ErrorBody, "description": "A body that is not JSON."},
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

    @app.exception_handler(StarletteHTTPException)
    async def every_allowed_method(request: Request, exc: StarletteHTTPException):
        """Starlette's 405 names only the first route whose path matched; a path several routes share
        (GET and POST on a listener's requests) should list every method it takes. Among templates
        that match, the most specific ones (most literal segments) are the resource."""
        if exc.status_code == 405:
            matching = [route for route in app.router.routes
                        if getattr(route, "path_regex", None) and route.path_regex.match(request.url.path)]
            literal = max((sum("{" not in part for part in r.path.split("/")) for r in matching), default=0)
            methods = sorted({method for route in matching
                              if sum("{" not in part for part in route.path.split("/")) == literal
                              for method in getattr(route, "methods", None) or ()})
            exc = StarletteHTTPException(405, exc.detail, headers={**(exc.headers or {}), "Allow": ", ".join(methods)})
        return await http_exception_handler(request, exc)

    def refused(exc: InputError) -> HTTPException:
        """An InputError as HTTP: 429 over the listener's rate, else 422 in the shape FastAPI gives its own
        (documented as HTTPValidationError), so clients parse one shape."""
        if isinstance(exc, TooManyMessages):
            return HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)})
        return HTTPException(422, [{"loc": ["body", exc.field or "body"], "msg": str(exc), "type": "value_error"}])

    def listener_profile(listener: str):
        try:
            return settings.profile_store().load(listener)
        except InputError as exc:
            raise HTTPException(404, "not found") if exc.field == "listener" else refused(exc) from None

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
        profile = listener_profile(body.listener)
        try:
            template_name = body.template or profile.template
            if template_name is None:
                raise InputError("no template given and none in the profile", field="template")
            template = load_template(template_name, settings.templates_dir)
            if body.request:  # stored as the API's; the run finds it pending, like any other request
                take_listener_request(profile, body.request)
        except InputError as exc:
            raise refused(exc) from None
        date = parse_date(body.date, profile)
        parameters = body.model_copy(update={"template": template.id, "date": date, "request": None}).model_dump(
            mode="json", exclude_none=True)
        try:
            # no listener tag: tags go into Prefect's event log, which cannot be erased per listener
            run = create_render_run(parameters, tags=["api"])
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

    def take_listener_request(profile, text: str) -> StoredRequest:
        from nightcast.render.job import take_listener_request as take

        stored = take(settings, profile, text, "api", per_hour=settings.listener_messages_per_hour)
        if stored.status == "rejected":
            raise InputError(f"not understood ({stored.id}): {stored.reason}", field="text")
        return stored

    @app.post("/v1/listeners/{listener}/requests", status_code=201, response_model=StoredRequest,
              responses={422: {"description": "Too long, empty, or nothing in it was understood (it is kept as "
                                              "rejected, with why)."}})
    def send_request(listener: ListenerId, body: RequestBody, grant: Grant = Depends(client_grant)) -> StoredRequest:
        """A listener's request for their next episode: what was understood comes back (`interpretation`)."""
        visible(grant, listener)
        profile = listener_profile(listener)
        try:
            return take_listener_request(profile, body.text)
        except InputError as exc:
            raise refused(exc) from None

    @app.get("/v1/listeners/{listener}/requests", response_model=list[StoredRequest])
    def list_requests(listener: ListenerId, grant: Grant = Depends(client_grant)) -> list[StoredRequest]:
        """Every request this listener sent, oldest first: pending, used in which episode, or rejected and why."""
        visible(grant, listener)
        listener_profile(listener)
        return settings.profile_store().requests(listener)

    @app.post("/v1/episodes/{listener}/{episode}/feedback", status_code=201, response_model=Feedback)
    def send_feedback(listener: ListenerId, episode: EpisodeId, body: FeedbackBody,
                      grant: Grant = Depends(client_grant)) -> Feedback:
        """like / skip / never on one segment of a published episode; it steers later episodes."""
        from nightcast.steering import take_feedback

        visible(grant, listener)
        listener_profile(listener)
        try:
            return take_feedback(settings.profile_store(), listener, store.episode_dir(listener, episode), episode,
                                 body.segment, body.verdict, "api", target=body.target, note=body.note,
                                 per_hour=settings.listener_messages_per_hour)
        except InputError as exc:
            if exc.field == "episode":
                raise HTTPException(404, "not found") from None
            raise refused(exc) from None

    @app.get("/v1/listeners/{listener}/export", response_class=FileResponse,
             responses={200: {"content": {"application/zip": {}},
                              "description": "A zip: holdings.json (every place nightcast keeps something about "
                                             "the listener), profile, requests, feedback, feed and every episode."}})
    def export(listener: ListenerId, grant: Grant = Depends(client_grant)):
        """The listener's copy of their data (GDPR access and portability)."""
        import tempfile

        from starlette.background import BackgroundTask

        from nightcast.rights import export_listener

        visible(grant, listener)
        folder = Path(tempfile.mkdtemp(prefix="nightcast-export-"))
        try:
            export_listener(settings, listener, folder / f"{listener}.zip", server=True)
        except InputError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise HTTPException(404, "not found") if exc.field == "listener" else refused(exc) from None
        return FileResponse(folder / f"{listener}.zip", media_type="application/zip", filename=f"{listener}.zip",
                            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))

    @app.delete("/v1/listeners/{listener}", response_model=ErasureReceipt)
    def forget(listener: ListenerId, grant: Grant = Depends(client_grant)) -> ErasureReceipt:
        """Erase the listener: profile, requests, feedback, episodes, feed, cache entries and their records
        on the Prefect server. Idempotent: a second call answers with a receipt that removed nothing."""
        from nightcast.rights import forget_listener

        visible(grant, listener)
        try:
            return forget_listener(settings, listener, server=True)
        except InputError as exc:
            raise refused(exc) from None

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
        if name == EPISODE_FILES["page"] and grant.listeners is not None:
            # The listener's own token: their page, with like / skip / never on each pick. (A token for
            # every listener is an operator's: it is never written into a page.)
            page = with_feedback(path.read_text(encoding="utf-8"), f"/v1/episodes/{listener}/{episode}/feedback",
                                 grant.token)
            return HTMLResponse(page, headers={"Cache-Control": "private, no-store"})
        return FileResponse(path)  # Starlette answers Range with 206 and Content-Range

    return app
