"""Every setting, read from the environment (prefix ``RAG_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError

LOCAL_MODEL = "local/qwen2.5-0.5b-instruct"
EXTRACTIVE_MODEL = "extractive"


class Settings(BaseSettings):
    """The one place configuration is read; no other module looks at ``os.environ``."""

    # NaN or infinity in a threshold would silently switch its check off (every comparison
    # with NaN is false): refused like any other invalid value.
    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_file=".env", extra="ignore", allow_inf_nan=False
    )

    # Where things live.
    index_dir: Path = Path(".rag/index")
    state_dir: Path = Path(".rag/state")  # conversations and feedback (SQLite)
    cache_dir: Path = Path.home() / ".cache" / "rag-news"  # the local GGUF, the ONNX encoder

    # Models.
    embed_model: str = ""  # empty: the bundled all-MiniLM-L6-v2
    embed_batch_size: int = Field(64, ge=1)
    int8_queries: bool = True  # questions on an int8 copy of the embedder; stored vectors float32
    llm_model: str = LOCAL_MODEL
    llm_api_base: str | None = None
    llm_api_key: str | None = None
    local_model_path: Path | None = None
    llm_threads: int = Field(2, ge=1)
    llm_context_tokens: int = Field(2048, ge=256)
    llm_max_tokens: int = Field(120, ge=8)
    llm_timeout_s: float = Field(30.0, gt=0)
    judge_model: str | None = None  # eval's optional LLM judge; off by default

    # Indexing.
    index_backend: Literal["faiss", "milvus"] = "faiss"  # faiss: embedded, in index_dir
    milvus_uri: str = ".rag/milvus.db"  # a file (Milvus Lite) or http://host:19530
    chunk_max_words: int = Field(90, ge=10)
    chunk_overlap_sentences: int = Field(1, ge=0)
    approx_threshold: int = Field(50_000, ge=1)  # above this many chunks, HNSW instead of exact
    dedup_threshold: float = Field(0.8, gt=0, le=1)  # Jaccard over shingles for near-duplicates

    # Retrieval and answering.
    top_k: int = Field(5, ge=1, le=50)
    context_tokens: int = Field(150, ge=30)  # passage budget of the answer prompt
    answer_max_tokens: int = Field(64, ge=8)  # cap on the answer the model writes
    # The embedded model writes its answer in the prompt's shape, held by a grammar (words
    # before each [n], or the abstention); other models are asked the same without one.
    answer_grammar: bool = True
    # Fitted on held-out dev sets (SQuAD 2.0 articles, other outlets' news); see the README.
    min_relevance: float = 0.75  # best sentence's score below this: abstain, no model call
    passage_min_score: float = 1.0  # the best sentence answers alone only from this score
    numeric_boost: bool = True  # sentences with numbers rank higher for how-many/when questions
    # A sentence-transformers CrossEncoder re-ordering the best sentences (none ships; rag.rerank).
    rerank_model: str | None = None
    rerank_top: int = Field(12, ge=2, le=100)  # how many of the best sentences it re-orders
    # Abstain when the best passage, or the passages the answer cites, lack a number asked about.
    question_numbers: bool = True
    quote_best_sentence: bool = True  # the best sentence follows claims it may add to
    # The model's answer stands only if the best sentence states the names and numbers it adds
    # (off for a model stronger than the sentence ranking).
    require_agreement: bool = True
    rewrite_with_llm: bool = False  # rewrite follow-ups with the LLM instead of merging terms

    # HTTP.
    api_keys: str | None = None  # comma-separated; unset means open
    rate_limit_per_minute: int = Field(120, ge=1)
    max_body_bytes: int = Field(5_000_000, ge=1024)
    max_question_chars: int = Field(2000, ge=10)
    generation_queue_size: int = Field(8, ge=1)
    request_timeout_s: float = Field(60.0, gt=0)
    cors_origins: str | None = None  # comma-separated; unset means CORS off
    log_questions: bool = False
    generation_workers: int = Field(1, ge=1)  # generations run at once; the rest queue
    # API processes sharing the index and state (`rag serve --workers N` sets it): above 1,
    # rate limits live in state_dir and metrics in Prometheus's multiprocess files.
    workers: int = Field(1, ge=1)
    index_poll_s: float = Field(0.5, gt=0)  # how often a server looks for a newer index version
    # A POST /v1/documents whose documents hold more text than this is answered 202 with a
    # job id at once and indexed in the background (GET /v1/jobs/{job_id}).
    job_threshold_chars: int = Field(100_000, ge=0)

    # The CLI: `rag ask`, `search` and `chat` use the server here when it answers (--local: not).
    url: str = "http://127.0.0.1:8000"

    # Slack.
    slack_signing_secret: str | None = None
    slack_bot_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_rate_limit_per_minute: int = Field(6, ge=1)  # questions per Slack user per minute
    slack_workers: int = Field(2, ge=1)  # answers generated at once for Slack
    slack_max_pending: int = Field(16, ge=1)  # answers waiting beyond that: "busy, try again"

    @property
    def api_key_list(self) -> list[str]:
        return [key.strip() for key in (self.api_keys or "").split(",") if key.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in (self.cors_origins or "").split(",") if o.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment and ``.env``; ``ConfigError`` saying which is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"RAG_{'_'.join(map(str, error['loc'])).upper()}: {error['msg']}"
            for error in exc.errors()[:3]
        )
        raise ConfigError(f"invalid setting: {problems}") from None
    except (OSError, UnicodeDecodeError) as exc:  # an unreadable .env file
        raise ConfigError(f"cannot read the settings: {exc}") from None
