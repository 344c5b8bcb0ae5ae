"""A listener's copy of their data (`nightcast listeners export`), and putting an exported profile
back (`nightcast listeners import`).

The zip holds:

    holdings.json            every place nightcast keeps something about them (rights/holdings.py)
    profile.yaml             their profile as the store holds it
    requests.yaml            what they asked for, and what became of each request
    feedback.yaml            their likes, skips and nevers
    feed.xml                 their podcast feed
    episodes/<episode>/…     every file of every finished episode
    qa-failed/<episode>.json the reports of episodes the QA gate blocked

Cache entries are listed in holdings.json, not copied: they are the pieces the episodes were made of.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import yaml

from nightcast.data_files import parse_model, read_yaml
from nightcast.errors import InputError
from nightcast.rights.holdings import Holdings, holdings
from nightcast.schema import Feedback, ListenerProfile, StoredRequest
from nightcast.settings import Settings


def _yaml(records) -> str:
    return yaml.safe_dump([r.model_dump(mode="json", exclude_none=True) for r in records], sort_keys=False,
                          allow_unicode=True)


def export_listener(settings: Settings, listener_id: str, out: Path, server: bool = True) -> Holdings:
    """Write the zip (atomically: a failed export leaves no partial file); returns its holdings."""
    found = holdings(settings, listener_id, server=server)
    if not found.places:
        raise InputError(f"nightcast holds nothing about listener '{listener_id}'", field="listener")
    store, episodes = settings.profile_store(), settings.episode_store()
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("holdings.json", found.model_dump_json(indent=2))
            if any(p.what == "profile" for p in found.places):
                profile = store.load(listener_id)
                archive.writestr("profile.yaml", yaml.safe_dump(profile.model_dump(mode="json", exclude_none=True),
                                                                sort_keys=False, allow_unicode=True))
            archive.writestr("requests.yaml", _yaml(store.requests(listener_id)))
            archive.writestr("feedback.yaml", _yaml(store.feedback(listener_id)))
            folder = episodes.listener_dir(listener_id)
            if episodes.feed_path(listener_id).is_file():
                archive.write(episodes.feed_path(listener_id), "feed.xml")
            for episode in (e for e in sorted(folder.glob("*")) if e.is_dir() and not e.name.startswith(".")):
                for file in sorted(p for p in episode.rglob("*") if p.is_file()):
                    archive.write(file, f"episodes/{episode.name}/{file.relative_to(episode)}")
            for report in sorted(folder.glob(".*.qa-failed.json")):
                archive.write(report, f"qa-failed/{report.name[1:].removesuffix('.qa-failed.json')}.json")
        os.replace(partial, out)
    except OSError as exc:
        raise InputError(f"cannot write the export ({exc.strerror})", source=out) from None
    finally:
        partial.unlink(missing_ok=True)
    return found


def import_listener(settings: Settings, source: Path) -> tuple[ListenerProfile, int, int]:
    """An exported zip (its profile, requests and feedback) or a profile YAML into the store, the
    profile replacing any with its id. Returns the profile and how many requests and feedback came."""
    source = Path(source)
    if not source.is_file():
        raise InputError("no such file", source=source)
    store = settings.profile_store()
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
            if "profile.yaml" not in names:
                raise InputError("the export has no profile.yaml (the listener had been erased?)", source=source)
            profile = parse_model(yaml.safe_load(archive.read("profile.yaml")), ListenerProfile,
                                  f"{source}:profile.yaml")
            requests = [parse_model(r, StoredRequest, f"{source}:requests.yaml")
                        for r in yaml.safe_load(archive.read("requests.yaml")) or []] if "requests.yaml" in names else []
            feedback = [parse_model(f, Feedback, f"{source}:feedback.yaml")
                        for f in yaml.safe_load(archive.read("feedback.yaml")) or []] if "feedback.yaml" in names else []
    else:
        profile, requests, feedback = parse_model(read_yaml(source), ListenerProfile, str(source)), [], []
    for record in (*requests, *feedback):
        if record.listener_id != profile.id:
            raise InputError(f"a record of listener '{record.listener_id}' in listener '{profile.id}'s export",
                             source=source)
    store.save([profile])
    known = {r.id for r in store.requests(profile.id)}
    for request in requests:
        if request.id not in known:
            store.add_request(request)
    given = {f.id for f in store.feedback(profile.id)}
    for verdict in feedback:
        if verdict.id not in given:
            store.add_feedback(verdict)
    return profile, len(requests), len(feedback)
