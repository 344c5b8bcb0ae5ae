"""Stage-cache keys name task parameters; a name that is not one fails at import, not silently."""

from __future__ import annotations

import pytest
from prefect import task

from nightcast.flows.caching import StageInputs, check_key_names


def test_the_shipped_tasks_name_real_parameters():
    import nightcast.flows.tasks as tasks  # checks itself at import

    check_key_names(tasks.write_script_task, tasks.speak_task, tasks.music_task, tasks.music_batch_task)


def test_a_renamed_parameter_is_refused():
    @task(cache_policy=StageInputs(stage="speech", inputs=("segment.text", "voices")))
    def speak(segment, voice_presets):  # `voices` was renamed: every key would hash None for it
        return segment

    with pytest.raises(TypeError, match="'voices' names no parameter"):
        check_key_names(speak)
