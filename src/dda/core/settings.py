"""One settings object for every plane.

Values come, highest priority first, from: keyword arguments, `DDA_*` environment variables
(nested sections use `__`, e.g. `DDA_STATION__PORT=5001`), a `.env` file, the TOML file named by
`DDA_CONFIG_FILE`, then the defaults below. Read settings through :func:`get_settings`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from dda.core.errors import InvalidInput

DEFAULT_SECRET_KEY = "dda-development-secret-change-me"  # noqa: S105 - refused in production
MIN_SECRET_BYTES = 32  # HS256 keys shorter than the hash output are guessable offline
CONFIG_FILE_ENV = "DDA_CONFIG_FILE"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("dda", appauthor=False))


class S3Settings(BaseModel):
    """Connection to any S3 API (AWS, MinIO, SeaweedFS). Used for `s3://` object-store URIs."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    addressing_style: Literal["auto", "path", "virtual"] = "path"


class ResultUploadSettings(BaseModel):
    """What an enrolled station sends home (the seed's InferenceUploader), in batches, resumable."""

    mode: Literal["off", "all", "anomalies", "flagged", "sampled"] = "anomalies"
    sample_rate: float = Field(default=0.05, ge=0.0, le=1.0)  # for mode "sampled"
    batch_size: int = Field(default=50, ge=1, le=1000)  # results per agent round
    max_bytes_per_s: int = Field(default=2_000_000, ge=10_000)  # bandwidth cap


class RemoteOperationSettings(BaseModel):
    """Which remote operations from the portal this station accepts (the station decides, not the
    portal): the plant's own machine owner sets these."""

    allow_logs: bool = True
    allow_files: bool = True  # browse and fetch under results/ and logs/ only
    allow_restart: bool = True  # exits the station; its service manager (systemd) starts it again
    allow_reboot: bool = False  # reboots the machine: off unless the owner turns it on


class StationSettings(BaseModel):
    """The edge station (LocalServer)."""

    host: str = "127.0.0.1"
    port: int = Field(default=5000, ge=1, le=65535)
    database_url: str | None = None  # default: SQLite file in <data_dir>/station/station.db
    storage_quota_mb: int = Field(default=10_000, ge=1)
    # Seconds between fleet heartbeats when enrolled (None: what the portal said at enrollment).
    agent_interval_s: float | None = Field(default=None, gt=0, le=3600)
    upload: ResultUploadSettings = Field(default_factory=ResultUploadSettings)
    remote: RemoteOperationSettings = Field(default_factory=RemoteOperationSettings)
    # Addresses/CIDRs of reverse proxies whose X-Forwarded-For is believed; nobody else's is.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Memory one image decode may take (pixels x channels x bytes per channel), and how many
    # decodes run at once: together they bound the memory untrusted uploads can claim.
    decode_budget_mb: int = Field(default=64, ge=1, le=4096)
    max_concurrent_decodes: int = Field(default=2, ge=1, le=64)
    # Memory all uploaded images in flight may take through the pipeline (about 48 B per pixel):
    # this also caps one upload's size (224 MB: about 4.7 megapixels).
    upload_memory_mb: int = Field(default=224, ge=16, le=65536)


class OidcSettings(BaseModel):
    """Optional OpenID Connect login (authorization code + PKCE). Users are matched by the ID
    token's ``sub``; a new subject becomes a portal user named by ``username_claim``."""

    issuer: str  # e.g. https://login.example.com/realms/plant ; discovery at <issuer>/.well-known/...
    discovery_url: str | None = None  # default: <issuer>/.well-known/openid-configuration
    client_id: str
    client_secret: SecretStr | None = None
    scopes: str = "openid profile email"
    username_claim: str = "preferred_username"
    # PortalAdmin when this claim equals admin_value (or is a list holding it); None: never from OIDC.
    admin_claim: str | None = None
    admin_value: str = "dda-portal-admins"
    # New OIDC users get this role in this use case (name), if both are set.
    default_usecase: str | None = None
    default_role: Literal["UseCaseAdmin", "DataScientist", "Operator", "Viewer"] = "Viewer"
    # The callback URL registered at the provider; default: <public_url>/api/v1/auth/oidc/callback.
    redirect_url: str | None = None


class PortalSettings(BaseModel):
    """The portal (REST API for use cases, data, jobs, registry, devices and deployments)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    database_url: str | None = None  # default: SQLite file in <data_dir>/portal/portal.db
    # Where use cases keep their data by default: a prefix of this store (file:// or s3://).
    object_store_url: str | None = None  # default: file://<data_dir>/portal/objects
    # Shared state of several API processes (login throttling, rate limits). None: in-process.
    redis_url: str | None = None
    redis_key_prefix: str = "dda:portal:"  # several portals (or test runs) may share one Redis
    public_url: str | None = None  # how browsers and stations reach the portal (links, enrollment)
    access_token_ttl_s: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_s: int = Field(default=14 * 86_400, ge=300)
    jwt_issuer: str = "dda-portal"
    # Client addresses of reverse proxies whose X-Forwarded-For is believed (exact IPs or CIDRs).
    trusted_proxies: list[str] = Field(default_factory=list)
    max_upload_mb: int = Field(default=200, ge=1)
    # model.tar.gz / ONNX uploads to the model registry (streamed to disk, refused above this: 413)
    max_model_upload_mb: int = Field(default=2048, ge=1)
    oidc: OidcSettings | None = None  # DDA_PORTAL__OIDC__ISSUER, DDA_PORTAL__OIDC__CLIENT_ID, ...
    # Data management: server folders a PortalAdmin allows importing from (name -> folder; never
    # arbitrary paths), S3 API endpoints an import may reach (None/AWS is always allowed), the
    # largest image accepted (pixels, checked from the header) and the resumable-upload limits.
    import_roots: dict[str, Path] = Field(default_factory=dict)
    import_s3_endpoints: list[str] = Field(default_factory=list)
    max_image_pixels: int = Field(default=40_000_000, ge=1, le=200_000_000)
    max_resumable_upload_mb: int = Field(default=5_000, ge=1)
    upload_chunk_mb: int = Field(default=64, ge=1, le=1024)
    # Jobs: "embedded" runs a worker pool inside `dda portal serve` (work in child processes);
    # "celery" hands job ids to Celery (Redis or RabbitMQ broker) for `dda portal worker` processes.
    executor: Literal["embedded", "celery"] = "embedded"
    broker_url: str | None = None  # e.g. redis://127.0.0.1:6379/0 or amqp://guest:guest@host:5672//
    job_queues: list[str] = Field(default_factory=lambda: ["default", "train"])  # what a worker takes
    queue_prefix: str = Field(default="", max_length=32)  # Celery queue names: <prefix><queue>
    job_workers: int = Field(default=2, ge=0, le=64)  # embedded pool size / Celery worker threads
    job_concurrency_per_usecase: int = Field(default=2, ge=1, le=64)
    job_lease_s: float = Field(default=60.0, ge=1.0, le=3600.0)  # a lost worker's job is reaped after
    job_heartbeat_s: float = Field(default=5.0, ge=0.1, le=600.0)
    job_timeout_s: int = Field(default=6 * 3600, ge=1)
    job_cancel_grace_s: float = Field(default=30.0, ge=0.0)  # then the job process is terminated
    job_poll_s: float = Field(default=1.0, gt=0.0, le=60.0)


class Settings(BaseSettings):
    """Every setting DDA reads. See the module docstring for where values come from."""

    model_config = SettingsConfigDict(
        env_prefix="DDA_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default_factory=default_data_dir)
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON lines unless stderr is a terminal
    object_store_url: str | None = None  # default: file://<data_dir>/objects
    weights_dir: Path | None = None  # default: <data_dir>/weights
    s3: S3Settings = Field(default_factory=S3Settings)
    station: StationSettings = Field(default_factory=StationSettings)
    portal: PortalSettings = Field(default_factory=PortalSettings)

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.env == "production" and (
            not secret.strip() or secret == DEFAULT_SECRET_KEY or len(secret.encode()) < MIN_SECRET_BYTES
        ):
            raise InvalidInput(
                "DDA_SECRET_KEY is empty, the built-in development value or shorter than "
                f"{MIN_SECRET_BYTES} bytes while DDA_ENV=production",
                hint="set DDA_SECRET_KEY to a long random value, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`",
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise InvalidInput(
                    f"{CONFIG_FILE_ENV} points at {path}, which is not a file",
                    hint=f"create the TOML file or unset {CONFIG_FILE_ENV}",
                )
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        sources.append(file_secret_settings)
        return tuple(sources)

    # Derived locations: one place decides where things live under the data dir.
    @property
    def resolved_object_store_url(self) -> str:
        return self.object_store_url or (self.data_dir / "objects").resolve().as_uri()

    @property
    def resolved_weights_dir(self) -> Path:
        return self.weights_dir or self.data_dir / "weights"

    @property
    def station_dir(self) -> Path:
        return self.data_dir / "station"

    @property
    def station_database_url(self) -> str:
        return self.station.database_url or f"sqlite:///{self.station_dir / 'station.db'}"

    @property
    def portal_dir(self) -> Path:
        return self.data_dir / "portal"

    @property
    def portal_database_url(self) -> str:
        return self.portal.database_url or f"sqlite:///{self.portal_dir / 'portal.db'}"

    @property
    def portal_object_store_url(self) -> str:
        return self.portal.object_store_url or (self.portal_dir / "objects").resolve().as_uri()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call ``get_settings.cache_clear()``."""
    return Settings()
