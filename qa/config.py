"""Settings: every knob is a `QA_*` environment variable, and most are CLI flags too.

One `Settings` object is built per process; CLI flags override it with `model_copy(update=...)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_CORPUS = Path(__file__).parent / "data" / "corpus"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    index_dir: Path = Field(Path(".qa/index"), description="Directory holding the index.")
    cache_dir: Path = Field(Path(".qa/cache"), description="Exported encoder models and other caches.")
    model: str = Field("sentence-transformers/all-MiniLM-L6-v2", description="Embedding model: name or path.")
    backend: Literal["onnx", "onnx-int8", "torch"] = Field("onnx-int8", description="Encoder runtime for the model.")
    public_url: str = Field("http://localhost:8000", description="Base of source-viewer links.")
    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved per question.")
    max_passage_chars: int = Field(600, ge=100, le=5000, description="Upper bound on passage length.")
    ann_threshold: int = Field(50_000, ge=1000, description="Passages above which vectors get an approximate (IVF) index.")
    threads: int = Field(0, ge=0, description="Inference threads; 0 = all cores.")
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL (a stand-in for tests).")
    feedback_log: Path = Field(Path(".qa/feedback.jsonl"), description="Where Slack helpful/not-helpful votes go.")
    log_level: str = "WARNING"


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with non-None overrides (CLI flags) applied on top."""
    settings = Settings()
    update = {key: value for key, value in overrides.items() if value is not None}
    return settings.model_copy(update=update) if update else settings
