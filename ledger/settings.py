"""Settings of LoopLedger, read once from ``LOOPLEDGER_*`` environment variables and ``.env``.

No other module reads the environment: everything that can be configured is a field here.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.errors import ConfigError

__all__ = ["DEV_CHAIN_ID", "DEV_KEYSTORE_PASSWORD", "Settings", "project_root", "public_origin_for"]

#: The keystore password of development chains: public, so refused on any other chain.
DEV_KEYSTORE_PASSWORD = "loopledger-dev"

#: Chain id of the embedded chains (anvil's default; eth-tester uses 131277322940537).
DEV_CHAIN_ID = 31337


def project_root() -> Path:
    """The source checkout: where ``foundry.toml``, ``contracts/`` and ``node_modules/`` live."""
    return Path(__file__).resolve().parent.parent


def public_origin_for(host: str, port: int) -> str:
    """The origin a gateway serving on `host`:`port` has when none is configured. A wildcard
    or loopback host is called localhost: passkeys (WebAuthn) take a domain, never an address."""
    host = "localhost" if host in ("0.0.0.0", "::", "", "127.0.0.1", "::1") else host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


class Settings(BaseSettings):
    """Everything an operator can set. Defaults give the embedded single-machine setup."""

    model_config = SettingsConfigDict(env_prefix="LOOPLEDGER_", env_file=".env", extra="ignore")

    chain: str = Field(
        default="anvil",
        description="'memory' (eth-tester in process), 'anvil' (local node started by LoopLedger) "
        "or an http(s):// JSON-RPC URL",
    )
    chain_id: int | None = Field(
        default=None,
        description="chain id the RPC endpoint must report (required for a URL; 31337 for anvil)",
    )
    data_dir: Path = Field(
        default=Path(".loopledger"), description="manifest, keys, chain state, database"
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the index store; SQLite in the data dir by default",
    )
    anvil_host: str = "127.0.0.1"
    anvil_port: int = Field(default=8545, ge=1, le=65535)
    anvil_accounts: int = Field(default=20, ge=2, le=1000)
    anvil_block_time: float | None = Field(
        default=None, description="seconds between anvil blocks; None mines a block per transaction"
    )
    rpc_timeout: float = Field(default=30.0, gt=0)
    operator_key: str | None = Field(
        default=None, description="hex private key of the operator account on a real network"
    )
    relayer_key: str | None = Field(
        default=None,
        description="hex private key of the relayer account on a real network: it pays for "
        "relayed requests and must hold no role (never the operator's key)",
    )
    keystore_password: str = Field(
        default=DEV_KEYSTORE_PASSWORD,
        description="password of the encrypted keystore (required, not the default, on a network)",
    )
    write_wait: float = Field(
        default=30.0, gt=0, le=300, description="longest a write request waits with ?wait= (s)"
    )
    confirmations: int = Field(
        default=0, ge=0, description="blocks the indexer stays behind the head"
    )
    index_range: int = Field(
        default=2_000, ge=1, description="blocks per eth_getLogs call to start with"
    )
    index_range_max: int = Field(
        default=100_000, ge=1, description="largest block range the indexer grows to"
    )
    index_pipeline: bool | None = Field(
        default=None,
        description="read and decode ranges in a worker process while the loader writes: true, "
        "false, or unset to do so for long, dense backfills",
    )
    max_lag_blocks: int = Field(
        default=10,
        ge=0,
        description="/api/health answers 503 when the index is further than this behind the "
        "confirmed head",
    )
    follower_stale_seconds: float = Field(
        default=30.0,
        gt=0,
        description="/api/health takes the follower as down when it has said nothing for this long",
    )
    api_workers: int = Field(default=1, ge=1, le=64, description="gateway worker processes")
    demo_seed: int = Field(default=2026, description="seed of the demo scenario")
    demo_scale: float = Field(
        default=0.3, gt=0, le=10, description="size of the demo scenario (1.0: a lively year)"
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = Field(
        default=None,
        description="the gateway's public base URL, used in product passports, their QR codes "
        "and GS1 Digital Link URIs (default: http://<api_host>:<api_port>)",
    )
    gs1_company_prefix: str | None = Field(
        default=None,
        pattern=r"^\d{6,12}$",
        description="GS1 company prefix: lots published as LGTINs and GS1 Digital Link URIs, "
        "pilots and makers' sites as SGLNs; unset: LoopLedger URNs",
    )
    public_origin: str | None = Field(
        default=None,
        description="the gateway's public origin (scheme://host[:port]); sign-in messages must name "
        "it as their domain and URI. Default: the origin of public_url when set, else "
        "http://<api host>:<api port> (localhost for a wildcard host). Never taken from a "
        "request's headers.",
    )

    @field_validator("public_origin")
    @classmethod
    def _check_origin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError(
                "LOOPLEDGER_PUBLIC_ORIGIN must be scheme://host[:port], e.g. https://ledger.example.org"
            )
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("LOOPLEDGER_PUBLIC_ORIGIN takes no user, query or fragment")
        return f"{parts.scheme}://{parts.netloc.lower()}"

    @model_validator(mode="after")
    def _one_origin(self) -> Settings:
        if self.public_origin and self.public_url:
            parts = urlsplit(self.public_url)
            if f"{parts.scheme.lower()}://{parts.netloc.lower()}" != self.public_origin:
                raise ValueError(
                    f"LOOPLEDGER_PUBLIC_URL {self.public_url!r} lies outside LOOPLEDGER_PUBLIC_ORIGIN "
                    f"{self.public_origin!r}: give one origin (or set only one of them)"
                )
        return self

    @property
    def effective_public_origin(self) -> str:
        """The one origin of the gateway: sign-in messages (SIWE) name it, and passkeys
        (WebAuthn) are bound to its host (see `public_origin`)."""
        if self.public_origin:
            return self.public_origin
        if self.public_url:
            parts = urlsplit(self.public_url)
            return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        return public_origin_for(self.api_host, self.api_port)

    @field_validator("chain")
    @classmethod
    def _check_chain(cls, value: str) -> str:
        if value in ("memory", "anvil") or value.startswith(("http://", "https://")):
            return value
        raise ValueError("LOOPLEDGER_CHAIN must be 'memory', 'anvil' or an http(s):// RPC URL")

    @property
    def effective_public_url(self) -> str:
        """The base URL people open the pages at (links, passports, QR codes): `public_url`,
        else the public origin, so both name the same origin."""
        return (self.public_url or self.effective_public_origin).rstrip("/")

    @cached_property
    def root(self) -> Path:
        return project_root()

    @property
    def data_path(self) -> Path:
        """The data directory, absolute."""
        path = self.data_dir if self.data_dir.is_absolute() else Path.cwd() / self.data_dir
        return path.resolve()

    @property
    def build_cache(self) -> Path:
        """Compiled artifacts, keyed by a hash of sources and settings (shared by every data dir)."""
        return self.root / "cache" / "loopledger"

    @property
    def manifest_path(self) -> Path:
        return self.data_path / f"deployment-{self.chain_label}.json"

    @property
    def chain_label(self) -> str:
        """Short name of the chain setting, used to keep files of different chains apart."""
        return self.chain if self.chain in ("memory", "anvil") else "rpc"

    @property
    def local(self) -> bool:
        """True for the embedded development chains, whose keys are public."""
        return self.chain in ("memory", "anvil")

    def keystore_secret(self) -> str:
        """The keystore password; the public development default only on a development chain."""
        if not self.local and self.keystore_password == DEV_KEYSTORE_PASSWORD:
            raise ConfigError(
                "LOOPLEDGER_KEYSTORE_PASSWORD is the public development default: set a password "
                "of your own for a keystore on a network chain"
            )
        return self.keystore_password

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_path / f'index-{self.chain_label}.sqlite'}"
