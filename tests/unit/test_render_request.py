"""One RenderRequest is the CLI's flags, the API's body and the Prefect form: same fields, one help text."""

from __future__ import annotations

import inspect

import pytest

from nightcast.render.request import Backends, RenderRequest, help_for


def test_the_flow_parameters_are_the_request_and_where_outputs_go():
    from nightcast.flows.episode import render_episode

    parameters = set(inspect.signature(render_episode.fn).parameters)
    assert parameters == set(RenderRequest.model_fields) | {"out_dir"}


def test_the_cli_help_is_the_request_description():
    import typer.main

    from nightcast.cli import app

    command = typer.main.get_command(app).commands["render"]
    helps = {param.name: param.help for param in command.params if hasattr(param, "help")}
    from nightcast.settings import Settings

    assert helps["writer_model"] == help_for("writer_model") == Backends.model_fields["writer_model"].description
    assert help_for("writer_model") == Settings.model_fields["writer_model"].description  # written once
    assert helps["qa"] == RenderRequest.model_fields["qa"].description
    assert helps["stems"] == help_for("music_stems")


def test_the_api_body_is_the_request_with_ids_only():
    from pydantic import ValidationError

    from nightcast.api.app import ApiRenderRequest

    assert set(ApiRenderRequest.model_fields) == set(RenderRequest.model_fields)
    ApiRenderRequest(listener="maya", backends={"voice": "kai"})
    with pytest.raises(ValidationError):
        ApiRenderRequest(listener="../profiles/maya.yaml")


def test_the_request_decides_the_settings(monkeypatch):
    monkeypatch.delenv("NIGHTCAST_QA__ENABLED", raising=False)
    request = RenderRequest(listener="maya", backends=Backends(voice="kai", audio_format="opus"), qa=False)
    settings = request.settings("elsewhere")
    assert (settings.voice, settings.audio_format, settings.qa.enabled) == ("kai", "opus", False)
    assert str(settings.outputs_dir) == "elsewhere"
    assert RenderRequest(listener="maya").settings().qa.enabled is True

