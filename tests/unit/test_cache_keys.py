"""Stage-cache keys name task parameters; a name that is not one fails at import, not silently. The
mix is keyed by its clips' identities, and only when every clip is a cached (content-addressed) one."""

from __future__ import annotations

import pytest
import os
from types import SimpleNamespace

from prefect import task

from nightcast.flows.caching import StageCache, StageInputs, check_key_names, place
from nightcast.settings import Settings


def test_the_shipped_tasks_name_real_parameters():
    import nightcast.flows.tasks as tasks  # checks itself at import

    import nightcast.flows.qa_gate as qa_gate

    check_key_names(tasks.write_script_task, tasks.speak_task, tasks.music_task, tasks.music_batch_task,
                    tasks.master_task, qa_gate.listen_task)


def test_a_renamed_parameter_is_refused():
    @task(cache_policy=StageInputs(stage="speech", inputs=("segment.text", "voices")))
    def speak(segment, voice_presets):  # `voices` was renamed: every key would hash None for it
        return segment

    with pytest.raises(TypeError, match="'voices' names no parameter"):
        check_key_names(speak)


def mix_key_of(cache: StageCache, clips: list, **settings):
    return cache.mix_key(timeline={"entries": ["s01"]}, speech=clips[:1], music=clips[1:], settings=settings)


def test_the_mix_key_follows_every_clip_and_exists_only_for_cached_clips(tmp_path):
    cache = StageCache(Settings(outputs_dir=tmp_path))
    stages = cache.root / "stages"
    clips = []
    for name in ("speech-a", "music-b"):
        (stages / name).mkdir(parents=True)
        (stages / name / "clip.wav").write_bytes(b"RIFF" + name.encode())
        clips.append(SimpleNamespace(path=str(stages / name / "clip.wav")))
    key = mix_key_of(cache, clips)
    assert key == mix_key_of(cache, clips) and key.startswith("mix-")
    assert mix_key_of(cache, clips, duck_db=-20) != key  # the mix settings are in it

    # a clip made again after a prune has the same path, maybe other bytes: a new key
    stat = os.stat(clips[1].path)
    os.utime(clips[1].path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert mix_key_of(cache, clips) != key

    # a clip in the render's own work folder is not content-addressed: nothing keyed by the mix is cached
    loose = tmp_path / "work" / "clip.wav"
    loose.parent.mkdir()
    loose.write_bytes(b"RIFF")
    assert mix_key_of(cache, [clips[0], SimpleNamespace(path=str(loose))]) is None
    assert mix_key_of(StageCache(Settings(outputs_dir=tmp_path, stage_cache=False)), clips) is None


def test_a_placed_file_replaces_the_old_one_whole(tmp_path):
    source, destination = tmp_path / "cached.mp3", tmp_path / "episode" / "episode.mp3"
    destination.parent.mkdir()
    destination.write_bytes(b"old episode")
    source.write_bytes(b"new episode")
    place(source, destination)
    assert destination.read_bytes() == b"new episode" and source.read_bytes() == b"new episode"
    assert [p.name for p in destination.parent.iterdir()] == ["episode.mp3"]  # no staging file left
