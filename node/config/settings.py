"""The configuration tree: one frozen dataclass per section of ``config/vfnode.toml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from node.analysis.types import Parameters


@dataclass(frozen=True, slots=True)
class NetSettings:
    """The DICOM application entity the PACS sends to."""

    ae_title: str = "VFNODE"
    port: int = 11112
    bind_address: str = "0.0.0.0"
    # Empty means every calling AE title is accepted (logged as a warning at start).
    allowed_calling_aes: list[str] = field(default_factory=list)
    # Optional "AE=host" pairs: the AE is only accepted from that address.
    allowed_hosts: list[str] = field(default_factory=list)
    max_associations: int = 8
    # Processes receiving on the shared port: one pynetdicom process tops out at about
    # 1.3x its one-association rate however many associations arrive (GIL).
    receivers: int = 2
    acse_timeout_s: float = 30.0
    dimse_timeout_s: float = 30.0
    network_timeout_s: float = 60.0
    tls_certificate: str = ""
    tls_private_key: str = ""
    tls_ca_certificate: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be an integer in 1..65535. Found {self.port}.")
        if not 0 < len(self.ae_title) <= 16:
            raise ValueError(f'ae_title must have 1..16 characters. Found "{self.ae_title}".')
        if self.max_associations < 1:
            raise ValueError(f"max_associations must be >= 1. Found {self.max_associations}.")
        if self.receivers < 1:
            raise ValueError(f"receivers must be >= 1. Found {self.receivers}.")


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """Where accepted instances and results are kept."""

    data_dir: Path = Path("./var")
    # Refuse new instances (Out of Resources) below this much free space.
    min_free_mb: int = 200

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"


@dataclass(frozen=True, slots=True)
class JobSettings:
    """Series completion and the analysis workers."""

    stable_seconds: float = 20.0
    workers: int = 1
    max_attempts: int = 3
    poll_seconds: float = 1.0
    # Threads of one analysis (the bodies of a multi-level study are looked for at
    # once); 0: one per CPU, at most four.
    analysis_threads: int = 0

    def __post_init__(self) -> None:
        if self.stable_seconds < 0:
            raise ValueError(f"stable_seconds must be >= 0. Found {self.stable_seconds}.")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1. Found {self.workers}.")
        if self.analysis_threads < 0:
            raise ValueError("analysis_threads must be >= 0 (0: one per CPU). "
                             f"Found {self.analysis_threads}.")


@dataclass(frozen=True, slots=True)
class ResultSettings:
    """Which DICOM result objects are written for each analysed series."""

    sr: bool = True
    seg: bool = True
    summary_image: bool = True
    # SEG-referencing volumetric SR groups (TID 1411) make OHIF 3.x fail: off by default.
    volumetric_sr_groups: bool = False
    series_number_base: int = 9900


@dataclass(frozen=True, slots=True)
class Destination:
    """A PACS that receives the results by C-STORE."""

    ae_title: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    """Delivery of results to the destinations."""

    destinations: list[str] = field(default_factory=list)  # "AE@host:port"
    # "CALLING_AE=AE@host:port": send results back to the modality/PACS that sent the study.
    return_to_sender: list[str] = field(default_factory=list)
    retry_initial_s: float = 5.0
    retry_max_s: float = 600.0
    dimse_timeout_s: float = 20.0

    def parsed_destinations(self) -> list[Destination]:
        return [parse_address(text) for text in self.destinations]


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """The case registry database (SQLAlchemy URL)."""

    url: str = ""  # empty: SQLite file in the data folder
    site_secret: str = ""  # keyed hashes for --deidentify exports


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "INFO"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything vfnode is configured with, validated once at start."""

    net: NetSettings = field(default_factory=NetSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    analysis: Parameters = field(default_factory=Parameters)
    jobs: JobSettings = field(default_factory=JobSettings)
    results: ResultSettings = field(default_factory=ResultSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    log: LogSettings = field(default_factory=LogSettings)

    @property
    def registry_url(self) -> str:
        return self.registry.url or f"sqlite:///{self.storage.data_dir / 'vfnode.db'}"


def parse_address(text: str) -> Destination:
    """``"AE@host:port"`` to a Destination."""
    ae, at, rest = text.partition("@")
    host, colon, port = rest.rpartition(":")
    if not (at and colon and ae and host and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f'A DICOM address must look like "AE@host:port". Found "{text}".')
    if len(ae) > 16:
        raise ValueError(f'An AE title has at most 16 characters. Found "{ae}".')
    return Destination(ae_title=ae, host=host, port=int(port))
