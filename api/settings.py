"""Settings read once from the environment; the only module that looks at os.environ."""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from search.server import MAX_INDEXING_MEMORY


class Settings(BaseSettings):
    """Every setting, its environment variable and its default; docs/configuration.md lists
    them, and a test keeps that list complete."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    data_dir: Path = Field(default=Path("./var"), description="SQLite file and local search data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; plain postgresql:// is accepted"
    )
    database_pool_size: int = Field(
        default=20, ge=1, description="PostgreSQL connections each worker process keeps open"
    )
    database_max_overflow: int = Field(
        default=20, ge=0, description="more it may open at a busy moment, closed after use"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=1, ge=1, description="uvicorn worker processes")
    meili_url: str | None = Field(default=None, description="unset: start a local Meilisearch")
    meili_master_key: str | None = None
    meili_binary: str | None = Field(default=None, description="the local Meilisearch binary")
    meili_max_indexing_memory: str = Field(
        default=MAX_INDEXING_MEMORY, description="indexing memory of the local Meilisearch"
    )
    meili_index_prefix: str = Field(default="", description="prefix of every index name")
    search_worker: bool = Field(default=True, description="drain the outbox in this process")
    people_worker: bool = Field(default=True, description="extract people in this process")
    related_worker: bool = Field(
        default=True, description="compute related stories in this process"
    )
    scheduler: bool = Field(default=True, description="publish scheduled stories in this process")
    webhook_worker: bool = Field(default=True, description="send webhook deliveries from here")
    webhook_allow_private: bool = Field(
        default=False, description="let webhooks reach private and loopback addresses"
    )
    log_level: str = "info"
    comment_rate_limit: str = Field(default="5/minute", description="comments per client address")
    correction_rate_limit: str = Field(default="5/minute", description="suggestions per address")
    report_rate_limit: str = Field(default="30/minute", description="reports per client address")
    request_rate_limit: str = Field(
        default="", description="GraphQL requests per client address (empty: no limit)"
    )
    max_body_bytes: int = Field(default=1_000_000, ge=1, description="largest request body")
    max_query_depth: int = Field(default=10, ge=1, description="deepest field nesting")
    max_query_aliases: int = Field(default=30, ge=0, description="aliases in one operation")
    max_query_fields: int = Field(default=300, ge=1, description="field selections")
    max_query_cost: int = Field(default=10_000, ge=1, description="estimated fields resolved")
    max_query_tokens: int = Field(default=1_000, ge=1, description="lexical tokens in a document")
    max_query_length: int = Field(default=50_000, ge=1, description="characters in a document")
    max_variable_values: int = Field(
        default=5_000, ge=1, description="JSON values in an operation's variables"
    )
    reports_to_hide: int = Field(
        default=3, ge=1, description="readers' reports that hide a comment"
    )
    result_cache: bool = Field(default=True, description="cache readers' answers")
    compiled_queries: bool = Field(
        default=True, description="answer readers' queries on PostgreSQL with one statement"
    )
    redis_url: str | None = Field(
        default=None, description="share the result cache between workers (unset: in-process)"
    )
    result_cache_namespace: str = Field(
        default="",
        description="the shared cache's Redis key prefix (empty: one of the database's own)",
    )
    result_cache_entries: int = Field(default=10_000, ge=1, description="in-process cache size")
    result_cache_bytes: int = Field(
        default=64_000_000, ge=1, description="in-process cache: bytes of answers kept at most"
    )
    result_cache_ttl: int = Field(default=3600, ge=1, description="seconds an answer is kept")
    request_time_limit: float = Field(
        default=10.0, gt=0, description="seconds one request may run before it is stopped"
    )
    cors_allow_origins: str = Field(
        default="", description="comma-separated origins allowed credentials and mutations"
    )
    public_base_url: str = Field(
        default="",
        description="the reader site's public address, for canonical links, feeds and sitemaps "
        "(empty: the request's own)",
    )
    publication_name: str = Field(
        default="Newsroom",
        description="the publication's name in feed titles and the Google News sitemap",
    )
    http_max_age: int = Field(
        default=0, ge=0, description="seconds a CDN may reuse a reader answer without asking"
    )

    media_dir: Path | None = Field(
        default=None, description="uploaded pictures' renditions (unset: DATA_DIR/media)"
    )
    media_url: str = Field(
        default="",
        description="public base address of the renditions, e.g. a CDN or an S3-compatible "
        "bucket holding MEDIA_DIR's files (empty: served by the app at /media/)",
    )
    max_image_bytes: int = Field(
        default=10_000_000, ge=1, description="largest picture an editor may upload"
    )
    max_image_pixels: int = Field(
        default=40_000_000, ge=1, description="most pixels in an uploaded picture (width x height)"
    )

    @cached_property
    def resolved_media_dir(self) -> Path:
        return self.media_dir or self.data_dir / "media"

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'newsroom.db').resolve()}"

    @cached_property
    def resolved_cache_namespace(self) -> str:
        """Deployments that share a Redis but not a database (staging beside production, say)
        must never answer from each other's entries: by default the prefix names the database."""
        if self.result_cache_namespace:
            return self.result_cache_namespace
        database = hashlib.sha256(self.resolved_database_url.encode()).hexdigest()[:12]
        return f"newsroom:{database}:"

    def ensure_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
