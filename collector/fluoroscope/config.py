"""Configuration: defaults < TOML file < ``FLUOROSCOPE_*`` environment < command-line flags.

Every option is declared once in :data:`OPTIONS` with its TOML key, environment variable, flag,
parser and default. Everything is checked at start-up; the first bad value stops ``serve`` with
one message that names the option, where it came from, and what it accepts.
"""

import json
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from fluoroscope.errors import ConfigError

LOG_LEVELS = ("debug", "info", "warning", "error")
HEAD_SAMPLING_MODES = ("off", "honour", "resample")
# PRAGMA synchronous for the store's writes (see the store.sync option).
STORE_SYNC_MODES = ("normal", "off")


@dataclass(frozen=True, slots=True)
class Address:
    """A host and port to listen on; port 0 lets the system pick one."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/fluoroscope``, else ``~/.local/share/fluoroscope``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "fluoroscope"


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting of ``fluoroscope serve``."""

    data_dir: Path
    udp: Address
    http: Address
    otlp_grpc: Address | None
    otlp_http: Address | None
    log_level: str
    retention_days: float
    store_sync: str
    store_max_bytes: int
    flush_interval_ms: int
    udp_receive_buffer_bytes: int
    queue_max_documents: int
    queue_max_bytes: int
    spool_max_bytes: int
    assembly_max_traces: int
    assembly_max_bytes: int
    assembly_idle_timeout_s: float
    assembly_complete_linger_s: float
    max_trace_bytes: int
    summary_processes: int
    ack_timeout_s: float
    otlp_max_message_bytes: int
    otlp_bearer_token: str | None
    otlp_indexed_attributes: frozenset[str]
    otlp_translation_processes: int
    export_otlp: str | None
    head_sampling: str
    tail_sampling_rules: tuple[dict[str, Any], ...]
    sampling_decision_wait_s: float
    sampling_decision_memory: int


def parse_address(value: object) -> Address:
    """``host:port`` or ``[v6-host]:port``."""
    text = _text(value)
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError("expected HOST:PORT, such as 127.0.0.1:2000 or [::1]:2000")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("the port must be a number from 0 to 65535")
    return Address(host, int(port))


def parse_listener(value: object) -> Address | None:
    """An address, or ``off`` to not listen at all."""
    if isinstance(value, str) and value.strip().lower() in ("off", ""):
        return None
    return parse_address(value)


def _secret(value: object) -> str | None:
    text = _text(value)
    return text or None


def split_endpoint(url: str) -> tuple[SplitResult, int]:
    """An OTLP endpoint URL (``grpc://host:port``, ``http(s)://host:port[/path]`` or
    ``host:port``), split, and its port; ValueError saying what it must be."""
    parts = urlsplit(url if "://" in url else f"grpc://{url}")
    if parts.scheme not in ("grpc", "http", "https"):
        raise ValueError("expected a grpc://, http:// or https:// URL")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or port == 0:
        raise ValueError("expected a URL with a host and a port from 1 to 65535")
    return parts, port


def _endpoint(value: object) -> str | None:
    """An OTLP endpoint URL (see :func:`split_endpoint`); empty for none."""
    text = _text(value)
    if not text:
        return None
    split_endpoint(text)
    return text


def _names(value: object) -> frozenset[str]:
    """A TOML list of strings, or a comma-separated string."""
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise ValueError("expected a list of strings")
        items = value
    else:
        items = _text(value).split(",")
    return frozenset(item.strip() for item in items if item.strip())


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value.strip()


def _path(value: object) -> Path:
    text = _text(value)
    if not text:
        raise ValueError("expected a directory path")
    return Path(text).expanduser()


def _choice(values: tuple[str, ...]) -> Callable[[object], str]:
    """A parser for one of ``values``, in any case."""

    def parse(value: object) -> str:
        text = _text(value).lower()
        if text not in values:
            raise ValueError(f"expected one of {', '.join(values)}")
        return text

    return parse


def _tables(value: object) -> tuple[dict[str, Any], ...]:
    """A TOML array of tables, or the same as a JSON list of objects (from the environment).

    Only the shape is checked here; what the tables say is checked by whoever uses them.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("expected a JSON list of objects") from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError("expected a list of tables")
    return tuple(value)


def _number(kind: type[int] | type[float], low: float, high: float) -> Callable[[object], Any]:
    def parse(value: object) -> int | float:
        if isinstance(value, bool):
            raise ValueError("expected a number")
        if isinstance(value, str):
            try:
                value = kind(value.strip())
            except ValueError:
                raise ValueError(
                    f"expected {'an integer' if kind is int else 'a number'}"
                ) from None
        if not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
            raise ValueError(f"expected {'an integer' if kind is int else 'a number'}")
        if not low <= value <= high:
            raise ValueError(f"expected a value from {low:g} to {high:g}")
        return kind(value)

    return parse


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: where it can come from, how it is parsed, and its default."""

    name: str  # the Config field
    key: str  # the TOML key, dotted for tables
    env: str
    flag: str | None
    parse: Callable[[object], Any]
    default: Callable[[], Any]
    help: str


OPTIONS: tuple[Option, ...] = (
    Option("data_dir", "data_dir", "FLUOROSCOPE_DATA_DIR", "--data-dir", _path,
           default_data_dir, "directory for the trace store"),
    Option("udp", "listen.udp", "FLUOROSCOPE_UDP", "--udp", parse_address,
           lambda: Address("127.0.0.1", 2000), "X-Ray daemon protocol (UDP) address"),
    Option("http", "listen.http", "FLUOROSCOPE_HTTP", "--http", parse_address,
           lambda: Address("127.0.0.1", 2000), "X-Ray API, metrics and health (TCP) address"),
    Option("otlp_grpc", "listen.otlp_grpc", "FLUOROSCOPE_OTLP_GRPC", "--otlp-grpc",
           parse_listener, lambda: Address("127.0.0.1", 4317),
           "OTLP/gRPC address, or off"),
    Option("otlp_http", "listen.otlp_http", "FLUOROSCOPE_OTLP_HTTP", "--otlp-http",
           parse_listener, lambda: Address("127.0.0.1", 4318),
           "OTLP/HTTP address, or off"),
    Option("log_level", "log_level", "FLUOROSCOPE_LOG_LEVEL", "--log-level", _choice(LOG_LEVELS),
           lambda: "info", "debug, info, warning or error"),
    Option("retention_days", "store.retention_days", "FLUOROSCOPE_STORE_RETENTION_DAYS", None,
           _number(float, 0.001, 36_500), lambda: 30.0, "delete traces older than this"),
    Option("store_sync", "store.sync", "FLUOROSCOPE_STORE_SYNC", None, _choice(STORE_SYNC_MODES),
           lambda: "normal", "normal: the store survives an OS crash or a power loss, losing at "
           "most its last transactions; off: checkpoints never wait for the disk, but an OS "
           "crash or a power loss may lose recent traces or damage the store (a crash of the "
           "collector alone loses nothing either way)"),
    Option("store_max_bytes", "store.max_bytes", "FLUOROSCOPE_STORE_MAX_BYTES", None,
           _number(int, 0, 1 << 50), lambda: 0,
           "the most the store's data may take on disk: past it the least recently updated "
           "traces are deleted (0: no bound; retention_days applies either way)"),
    Option("flush_interval_ms", "store.flush_interval_ms", "FLUOROSCOPE_STORE_FLUSH_INTERVAL_MS",
           None, _number(int, 10, 5_000), lambda: 200,
           "how often every changed trace is written (finished ones go every 50 ms at most)"),
    Option("udp_receive_buffer_bytes", "udp.receive_buffer_bytes",
           "FLUOROSCOPE_UDP_RECEIVE_BUFFER_BYTES", None, _number(int, 65_536, 1 << 30),
           lambda: 32 << 20, "SO_RCVBUF asked for on the UDP socket"),
    Option("queue_max_documents", "queue.max_documents", "FLUOROSCOPE_QUEUE_MAX_DOCUMENTS", None,
           _number(int, 100, 10_000_000), lambda: 50_000,
           "documents waiting in memory for the pipeline (UDP then goes to the spool; "
           "the API and OTLP refuse for retry)"),
    Option("queue_max_bytes", "queue.max_bytes", "FLUOROSCOPE_QUEUE_MAX_BYTES", None,
           _number(int, 1 << 20, 1 << 34), lambda: 8 << 20,
           "bytes waiting in memory for the pipeline (UDP goes to the spool past 2 MiB of "
           "them; the API and OTLP refuse for retry)"),
    Option("spool_max_bytes", "queue.spool_max_bytes", "FLUOROSCOPE_QUEUE_SPOOL_MAX_BYTES", None,
           _number(int, 0, 1 << 40), lambda: 2 << 30,
           "disk under the data directory for UDP documents the pipeline has no room for yet "
           "(0: none; UDP then waits in the socket buffer)"),
    Option("assembly_max_traces", "assembly.max_traces", "FLUOROSCOPE_ASSEMBLY_MAX_TRACES", None,
           _number(int, 10, 10_000_000), lambda: 100_000, "traces held in memory at most"),
    Option("assembly_max_bytes", "assembly.max_bytes", "FLUOROSCOPE_ASSEMBLY_MAX_BYTES", None,
           _number(int, 1 << 20, 1 << 34), lambda: 16 << 20,
           "document bytes held in memory at most (objects take about three times that)"),
    Option("assembly_idle_timeout_s", "assembly.idle_timeout_s",
           "FLUOROSCOPE_ASSEMBLY_IDLE_TIMEOUT_S", None, _number(float, 0.1, 86_400),
           lambda: 30.0, "how long an unfinished trace stays in memory after its last document"),
    Option("assembly_complete_linger_s", "assembly.complete_linger_s",
           "FLUOROSCOPE_ASSEMBLY_COMPLETE_LINGER_S", None, _number(float, 0.0, 86_400),
           lambda: 0.5, "how long a complete trace stays in memory for late documents"),
    Option("max_trace_bytes", "assembly.max_trace_bytes", "FLUOROSCOPE_ASSEMBLY_MAX_TRACE_BYTES",
           None, _number(int, 65_536, 1 << 30), lambda: 4 << 20,
           "documents beyond this size per trace are refused (LimitExceeded)"),
    Option("summary_processes", "assembly.summary_processes",
           "FLUOROSCOPE_ASSEMBLY_SUMMARY_PROCESSES", None, _number(int, 0, 64),
           lambda: 1 if (os.cpu_count() or 1) > 1 else 0,
           "helper processes that summarise traces beside the pipeline thread, so that large "
           "flushes use more cores (0: the pipeline thread alone; default 1 with two cores "
           "or more)"),
    Option("ack_timeout_s", "api.ack_timeout_s", "FLUOROSCOPE_API_ACK_TIMEOUT_S", None,
           _number(float, 0.1, 60), lambda: 5.0,
           "how long PutTraceSegments waits for its documents to be stored"),
    Option("otlp_max_message_bytes", "otlp.max_message_bytes",
           "FLUOROSCOPE_OTLP_MAX_MESSAGE_BYTES", None, _number(int, 65_536, 1 << 30),
           lambda: 16 << 20, "largest OTLP request accepted (after decompression)"),
    Option("otlp_bearer_token", "otlp.bearer_token", "FLUOROSCOPE_OTLP_BEARER_TOKEN", None,
           _secret, lambda: None, "require 'Authorization: Bearer <token>' on OTLP requests"),
    Option("otlp_indexed_attributes", "otlp.indexed_attributes",
           "FLUOROSCOPE_OTLP_INDEXED_ATTRIBUTES", None, _names, frozenset,
           "span attributes to index as annotations (comma-separated or a TOML list)"),
    Option("otlp_translation_processes", "otlp.translation_processes",
           "FLUOROSCOPE_OTLP_TRANSLATION_PROCESSES", None, _number(int, 0, 64),
           lambda: 1 if (os.cpu_count() or 1) > 1 else 0,
           "helper processes that translate OTLP requests, so that translation runs on another "
           "core (0: in the collector's process; default 1 with two cores or more)"),
    Option("export_otlp", "export.otlp", "FLUOROSCOPE_EXPORT_OTLP", "--export-otlp", _endpoint,
           lambda: None, "forward everything stored as OTLP to this endpoint "
           "(grpc://host:4317, or http://host:4318/v1/traces)"),
    Option("head_sampling", "sampling.head", "FLUOROSCOPE_SAMPLING_HEAD", "--head-sampling",
           _choice(HEAD_SAMPLING_MODES), lambda: "off",
           "sample arriving traces by the sampling rules: off, honour (keep what senders "
           "marked sampled) or resample (decide every trace)"),
    Option("tail_sampling_rules", "sampling.tail.rules", "FLUOROSCOPE_SAMPLING_TAIL_RULES", None,
           _tables, tuple,
           "tail-sampling rules tried in order: tables of name, filter (an X-Ray filter "
           "expression) and keep (a probability); none means no tail sampling"),
    Option("sampling_decision_wait_s", "sampling.decision_wait_s",
           "FLUOROSCOPE_SAMPLING_DECISION_WAIT_S", None, _number(float, 0.1, 3_600),
           lambda: 10.0, "longest a trace waits for its entry segment or for completeness "
           "before it is sampled on what has arrived"),
    Option("sampling_decision_memory", "sampling.decision_memory",
           "FLUOROSCOPE_SAMPLING_DECISION_MEMORY", None, _number(int, 1_000, 10_000_000),
           lambda: 100_000, "dropped traces remembered, so that their late documents are dropped"),
)  # fmt: skip


def load(
    flags: Mapping[str, object],
    environ: Mapping[str, str],
    config_file: Path | None,
) -> Config:
    """Resolve every option by precedence and validate it; raise ConfigError on the first bad one.

    ``flags`` maps Config field names to values given on the command line (absent = not given).
    """
    table = _read_toml(config_file) if config_file is not None else {}
    known = {option.key for option in OPTIONS}
    for key in _flatten(table):
        if key not in known:
            raise ConfigError(f"{config_file}: unknown option {key!r}")
    values: dict[str, Any] = {}
    for option in OPTIONS:
        source, raw = _pick(option, flags, environ, table, config_file)
        if source is None:
            values[option.name] = option.default()
            continue
        try:
            values[option.name] = option.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"invalid {source} {raw!r}: {exc} ({option.help})") from None
    return Config(**values)


def _pick(
    option: Option,
    flags: Mapping[str, object],
    environ: Mapping[str, str],
    table: dict[str, Any],
    config_file: Path | None,
) -> tuple[str | None, object]:
    if option.name in flags and flags[option.name] is not None:
        return (option.flag or option.name), flags[option.name]
    if option.env in environ:
        return option.env, environ[option.env]
    flat = _flatten(table)
    if option.key in flat:
        return f"{option.key} in {config_file}", flat[option.key]
    return None, None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from None


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat
