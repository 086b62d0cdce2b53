"""The service's one settings class, read from ``DEEPVERIFY_*`` environment variables.

Everything the API, the in-process worker, the Celery workers and the migrations need comes from
:class:`Settings`; it is validated once at start-up, so a bad value stops the server with one line
instead of failing on the first request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from deepverify.defaults import DEFAULT_ENGINE, ENGINES
from deepverify.errors import ConfigError

MIN_SECRET_KEY_LENGTH = 32
PACKAGE_STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
MB = 1024 * 1024
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


class Settings(BaseSettings):
    """Configuration of the verification service (env prefix ``DEEPVERIFY_``).

    Paths left unset derive from ``home``: the SQLite database at ``home/deepverify.db``; uploads
    and results are laid out under it by :mod:`deepverify.service.core.storage`.
    """

    model_config = SettingsConfigDict(env_prefix="DEEPVERIFY_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    home: Path = Field(default_factory=lambda: Path.home() / ".deepverify")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # None: a random key generated on first start and kept in ``home/secret_key`` (development).
    secret_key: SecretStr | None = None
    allow_generated_secret_on_public_host: bool = False
    cors_origins: list[str] = []
    web_dir: Path = PACKAGE_STATIC_DIR
    api_docs: bool = False  # Swagger UI at /api/docs (assets from the swagger-ui-bundle package)

    # Object storage of uploads and results (see deepverify.service.core.objects): the folder
    # under ``home`` or an S3 bucket. S3 credentials come from the standard AWS chain
    # (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an instance role): never a setting.
    storage: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_prefix: str = ""  # keys start with it, e.g. "deepverify/"
    s3_endpoint_url: str | None = None  # None: AWS; else e.g. http://127.0.0.1:8333 (SeaweedFS)
    s3_region: str | None = None
    s3_path_style: bool = False  # http://host/bucket/key instead of http://bucket.host/key

    # Database: SQLite under ``home`` unless a URL (e.g. PostgreSQL) is given.
    database_url: str | None = None

    # Accounts.
    allow_registration: bool = True
    access_token_expire_minutes: int = Field(default=60, ge=1)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_window_seconds: float = Field(default=300.0, gt=0)
    registrations_per_address: int = Field(default=5, ge=1)  # new accounts per client address
    registration_window_seconds: float = Field(default=3600.0, gt=0)
    # Addresses of reverse proxies whose X-Forwarded-For is believed; none by default, so a
    # client cannot pick the address its sign-in attempts are counted under.
    trusted_proxies: list[str] = []
    token_issuer: str = "deepverify"
    token_audience: str = "deepverify-api"

    # External sign-in (Kinde, Firebase, Auth0, Keycloak or any OIDC issuer).
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None  # default: from the issuer's discovery document
    oidc_algorithms: list[str] = ["RS256"]
    oidc_client_id: str | None = None
    oidc_provider_name: str = "Single sign-on"
    oidc_authorization_endpoint: str | None = None
    oidc_email_claim: str = "email"
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)

    # Uploads.
    max_upload_bytes: int = Field(default=500 * MB, ge=1)
    upload_timeout_seconds: float = Field(default=1800.0, gt=0)  # slow uploads are cut off
    max_json_bytes: int = Field(default=64 * 1024, ge=1024)  # request bodies other than uploads
    max_video_pixels: int = Field(default=3840 * 2160, ge=1)
    max_video_seconds: float = Field(default=600.0, gt=0)
    # Bounded work per upload: what decoding the whole file may cost, measured by the probe.
    max_video_frames: int = Field(default=18_000, ge=2)  # 10 minutes at 30 fps
    max_pixels_per_second: int = Field(default=1920 * 1080 * 60, ge=1)  # 1080p60, 4K at 15 fps
    probe_timeout_seconds: float = Field(default=10.0, gt=0)
    max_pending_jobs_per_user: int = Field(default=10, ge=1)  # queued or running

    # Connections (see deepverify.service.server): slow clients must not hold them.
    header_timeout_seconds: float = Field(default=10.0, gt=0)  # request line and headers
    body_timeout_seconds: float = Field(default=30.0, gt=0)  # window the body rate is judged on
    min_body_bytes_per_second: int = Field(default=1024, ge=1)
    keep_alive_seconds: float = Field(default=5.0, gt=0)  # an idle kept-alive connection closes
    max_connections: int = Field(default=200, ge=1)  # open at once; beyond, requests get 503
    max_running_jobs_per_user: int = Field(default=1, ge=1)

    # Live sessions (deepverify.service.services.live).
    live_max_sessions: int = Field(default=4, ge=0)  # running at once, all users; 0: no live mode
    live_max_sessions_per_user: int = Field(default=1, ge=1)
    live_max_seconds: float = Field(default=3600.0, gt=0)  # a session's longest life
    live_allow_private_addresses: bool = False  # cameras on the local network (SSRF otherwise)
    live_max_frame_bytes: int = Field(default=2 * MB, ge=1024)  # one camera/screen JPEG
    live_max_frames_per_second: float = Field(default=15.0, gt=0)  # pushed by one client
    live_heatmaps: bool = True  # each face's latest heatmap in the updates (a small JPEG)

    # Jobs.
    broker_url: str | None = None  # set: jobs go to Celery workers instead of the in-process one
    broker_queue: str = "deepverify"
    worker_concurrency: int = Field(default=1, ge=1, le=32)
    job_lease_seconds: float = Field(default=30.0, gt=0)
    job_max_attempts: int = Field(default=3, ge=1)
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    max_analysis_seconds: float = Field(default=600.0, gt=0)  # wall time of one job
    cancel_check_seconds: float = Field(default=0.5, gt=0)  # how often a job looks for deletion
    # A job the object store keeps failing is postponed (its attempt not counted) until its
    # upload is this old; then it fails with the reason instead of waiting for ever.
    max_storage_wait_seconds: float = Field(default=6 * 3600.0, gt=0)
    broker_visibility_timeout_seconds: int = Field(default=3600, ge=1)
    # How often the API sweeps the store for objects no video row names (at start-up, then
    # every this many seconds while it serves; deepverify.service.api.hygiene.sweep_orphans).
    orphan_sweep_interval_seconds: float = Field(default=6 * 3600.0, gt=0)

    # Analysis.
    model_path: Path | None = None  # None: the packaged default model
    engine: str = DEFAULT_ENGINE  # one of ENGINES; torch needs the train extra
    detector: str | None = None  # None: the one the model card was trained with
    num_frames: int | None = Field(default=None, ge=1)
    device: str = "cpu"
    explain: bool = True
    # CPU threads for inference, in either engine (ONNX Runtime's intra-op threads, or torch's).
    # Deprecated: DEEPVERIFY_TORCH_THREADS, its name from before it set ONNX Runtime's too, is
    # still read (when DEEPVERIFY_INFERENCE_THREADS is unset).
    inference_threads: int = Field(
        default=2,
        ge=1,
        validation_alias=AliasChoices(
            "inference_threads",
            "DEEPVERIFY_INFERENCE_THREADS",
            "torch_threads",
            "DEEPVERIFY_TORCH_THREADS",
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.secret_key is None and self.environment != "development":
            raise ValueError(
                "DEEPVERIFY_SECRET_KEY must be set outside development "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        key = self.secret_key.get_secret_value() if self.secret_key is not None else None
        if key is not None and len(key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"DEEPVERIFY_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long"
            )
        if self.engine not in ENGINES:
            raise ValueError(f"DEEPVERIFY_ENGINE must be one of {', '.join(ENGINES)}")
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("DEEPVERIFY_S3_BUCKET must be set when DEEPVERIFY_STORAGE=s3")
        if self.s3_prefix.startswith("/"):
            raise ValueError("DEEPVERIFY_S3_PREFIX must not start with '/'")
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("DEEPVERIFY_OIDC_AUDIENCE must be set when DEEPVERIFY_OIDC_ISSUER is")
        if any(alg.lower() == "none" or alg.startswith("HS") for alg in self.oidc_algorithms):
            raise ValueError("DEEPVERIFY_OIDC_ALGORITHMS may only list asymmetric algorithms")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL: ``database_url`` or the SQLite file under ``home``."""
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def sqlite_path(self) -> Path:
        """The SQLite database file used when no ``database_url`` is given."""
        return self.home / "deepverify.db"

    @property
    def signing_key(self) -> str:
        """The key local tokens are signed with (see :mod:`deepverify.service.core.keys`).

        Raises:
            ConfigError: no key was configured or generated yet.
        """
        if self.secret_key is None:
            raise ConfigError("no secret key: set DEEPVERIFY_SECRET_KEY")
        return self.secret_key.get_secret_value()

    @property
    def uses_celery(self) -> bool:
        """True when jobs go to Celery workers through ``broker_url``."""
        return self.broker_url is not None


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings; raise :class:`ConfigError` with one line when invalid."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        detail = first.get("msg", str(exc)).removeprefix("Value error, ")
        prefix = f"DEEPVERIFY_{where.upper()}: " if where else ""
        raise ConfigError(f"invalid settings: {prefix}{detail}") from exc
