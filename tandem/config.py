"""Settings, declared once.

Each ``Setting`` names its type, default, ``TANDEM_*`` environment variable,
command-line flag and help. The CLI options, validation and
``docs/settings.md`` are generated from ``SETTINGS``. Precedence:
defaults < settings file (TOML) < environment < flags, resolved once into a
frozen ``Settings`` that is passed down. Only this module reads ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "Setting",
    "SETTINGS",
    "Settings",
    "load_settings",
    "settings_markdown",
    "parent_environment",
    "otlp_header_pairs",
    "aws_credential_environment",
]

# What a child process may inherit from the server's environment (everything else it gets is
# declared by its ContainerDefinition): where programs are, the locale, how to reach Docker.
_INHERITED = ("PATH", "LANG", "LC_ALL", "DOCKER_HOST", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY")


def parent_environment() -> dict[str, str]:
    """The few server environment variables child processes may inherit."""
    return {name: os.environ[name] for name in _INHERITED if name in os.environ}


# The server's own AWS credentials, which notebook lifecycle scripts get (as a notebook
# instance's scripts get its execution role's) so their `aws s3` calls are signed.
_AWS_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def aws_credential_environment() -> dict[str, str]:
    """The AWS credential variables of the server's environment that are set."""
    return {name: os.environ[name] for name in _AWS_CREDENTIALS if name in os.environ}


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    type: Callable[[Any], Any]
    default: Any
    help: str
    section: str = "server"
    alias: str | None = None  # a second, shorter flag
    # OpenTelemetry's standard variables for the same thing, first wins; read when the
    # TANDEM_* variable is not set (see _STANDARD_CONVERT for values that need a conversion).
    standard_env: tuple[str, ...] = ()

    @property
    def env(self) -> str:
        return "TANDEM_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _positive_float(value: Any) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _positive_int(value: Any) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _port(value: Any) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise ValueError("must be between 0 and 65535")
    return number


def _account_id(value: Any) -> str:
    text = str(value)
    if len(text) != 12 or not text.isdigit():
        raise ValueError("must be 12 digits")
    return text


def _optional_url(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if not text.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return text


def _non_negative_float(value: Any) -> float:
    number = float(value)
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


def _ratio(value: Any) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError("must be between 0 and 1")
    return number


_SAMPLERS = ("always_on", "always_off", "traceidratio", "parentbased_always_on",
             "parentbased_always_off", "parentbased_traceidratio")


def _sampler(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in _SAMPLERS:
        raise ValueError(f"must be one of {', '.join(_SAMPLERS)}")
    return text


def _compression(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("none", "gzip"):
        raise ValueError("must be none or gzip")
    return text


def _protocol(value: Any) -> str:
    text = str(value).strip().lower()
    if text != "http/protobuf":
        raise ValueError("tandem exports OTLP over http/protobuf only")
    return text


def _otlp_headers(value: Any) -> str:
    text = str(value or "")
    for member in filter(None, (m.strip() for m in text.split(","))):
        key, sep, _ = member.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{member!r} is not key=value")
    return text


def otlp_header_pairs(value: str) -> tuple[tuple[str, str], ...]:
    """``k1=v1,k2=v2`` (W3C Baggage syntax, values percent-decoded) as header pairs."""
    from urllib.parse import unquote

    pairs = []
    for member in filter(None, (m.strip() for m in value.split(","))):
        key, _, val = member.partition("=")
        pairs.append((key.strip().lower(), unquote(val.strip())))
    return tuple(pairs)


def _milliseconds(value: str) -> float:
    return float(value) / 1000.0


def _traces_url(base: str) -> str:
    # OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: the signal's path is appended to it.
    return base.rstrip("/") + "/v1/traces" if base else base


# Standard variables whose unit or shape differ from the setting's.
_STANDARD_CONVERT: dict[str, Callable[[str], Any]] = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": _traces_url,
    "OTEL_EXPORTER_OTLP_TIMEOUT": _milliseconds,
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": _milliseconds,
    "OTEL_BSP_SCHEDULE_DELAY": _milliseconds,
}


def _launcher(value: Any) -> str:
    text = str(value).strip()
    if text == "local":
        return text
    host, sep, port = text.removeprefix("ray://").rpartition(":")
    if (not text.startswith("ray://") or not sep or not host or not port.isdigit()
            or not 0 < int(port) <= 65535):
        raise ValueError("must be local or ray://HOST:PORT (the Ray head's GCS address)")
    return text


def _store(value: Any) -> str:
    text = str(value).strip()
    if text == "sqlite":
        return text
    if text.startswith(("postgresql://", "postgres://")):
        from urllib.parse import urlsplit

        parts = urlsplit(text)
        if parts.hostname and parts.path.strip("/"):
            return text
    raise ValueError("must be sqlite or postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE")


def _scale(value: Any) -> float:
    number = float(value)
    if not 0.0 < number <= 1.0:
        raise ValueError("must be greater than 0 and at most 1")
    return number


def _optional_path(value: Any) -> Path | None:
    if value is None or value == "":
        return None
    return Path(value)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "host", str, "127.0.0.1", "Address to bind. Keep 127.0.0.1 unless others must reach it."
    ),
    Setting(
        "port", _port, 8080, "Port for every API, the dashboard and /metrics (0 picks a free one)."
    ),
    Setting(
        "data_dir", Path, Path(".tandem"), "Directory holding the store and unpacked artefacts."
    ),
    Setting("account_id", _account_id, "000000000000", "AWS account id used in ARNs and messages."),
    Setting("region", str, "us-east-1", "AWS region used in ARNs and messages."),
    Setting(
        "auth_file",
        _optional_path,
        None,
        "TOML file of [[keys]] access_key_id/secret_access_key: when set, every API request "
        "must be SigV4-signed with one of them (default: any request is accepted).",
        alias="--auth",
    ),
    Setting(
        "s3_endpoint_url",
        str,
        "",
        "Where s3:// locations of models and jobs live: empty for tandem's own S3 (files "
        "under <data-dir>/s3, served on the same port), else the URL of an S3-compatible "
        "endpoint (MinIO, another server), or 'aws' for AWS S3 itself; boto3's standard "
        "credential chain signs for it.",
        section="storage",
    ),
    Setting(
        "store",
        _store,
        "sqlite",
        "Where the catalogue, metrics, logs and alarms are kept: sqlite (files under "
        "<data-dir>) or postgresql://USER@HOST:PORT/DB, a database several servers can share. "
        "On PostgreSQL one server leads at a time; another started on the same database "
        "waits as a standby and takes over when the leader goes. See docs/scale-out.md.",
        section="storage",
    ),
    Setting(
        "routing_resync_interval",
        _positive_float,
        5.0,
        "Seconds between full rereads of the routing state from a shared store, on top of its "
        "change notifications: a notification lost with a dropped connection heals within "
        "this time.",
        section="scale-out",
    ),
    Setting(
        "launcher",
        _launcher,
        "local",
        "Where endpoint instances run: local (processes on this machine) or ray://HOST:PORT "
        "to place them on the nodes of a Ray cluster whose head's GCS listens there (what "
        "`ray start --head --port` sets). Jobs stay local. See docs/scale-out.md.",
        section="scale-out",
    ),
    Setting(
        "agent_server_url",
        _optional_url,
        None,
        "URL other hosts reach this server at: the instance agents on other hosts ship their "
        "logs and usage metrics to it, and on a shared PostgreSQL store the leader advertises "
        "it, for the standbys to forward calls to (default http://<host>:<port> of this "
        "server, this machine's name for a wildcard host; with a ray launcher it must be an "
        "address the other hosts reach, not 127.0.0.1).",
        section="scale-out",
    ),
    Setting(
        "agent_work_dir",
        _optional_path,
        None,
        "Directory on each Ray node under which instance agents fetch and unpack models' data "
        "and code (instances/<endpoint>/<instance-id>); default the --data-dir path. It need "
        "not be shared with this server.",
        section="scale-out",
    ),
    Setting(
        "ray_resource_scale",
        _scale,
        1.0,
        "Share of an instance type's vCPUs and memory asked of the Ray cluster per instance "
        "(1 = all of ml.m5.large's 2 vCPUs and 8 GiB; less packs more instances on small "
        "test hosts). GPUs are always asked in full.",
        section="scale-out",
    ),
    Setting(
        "agent_unreachable_limit",
        _positive_float,
        90.0,
        "Seconds an instance's agent on another host may stay unreachable before its instance "
        "is taken for dead and replaced (Ray cannot always tell: a node's raylet exits after "
        "60 s without the head, and a head restarted without GCS fault tolerance knows no old "
        "actor). See docs/scale-out.md.",
        section="scale-out",
    ),
    Setting(
        "metrics_flush_interval",
        _positive_float,
        5.0,
        "Seconds between flushes of in-memory minute buckets to the store (at most 5).",
        section="telemetry",
    ),
    Setting(
        "logs_flush_interval",
        _positive_float,
        0.5,
        "Seconds at most between capture of a log line and its commit.",
        section="telemetry",
    ),
    Setting(
        "retention_1m_days",
        _positive_int,
        15,
        "Days 1-minute metric data is kept.",
        section="telemetry",
    ),
    Setting(
        "retention_5m_days",
        _positive_int,
        63,
        "Days 5-minute rollups are kept.",
        section="telemetry",
    ),
    Setting(
        "retention_1h_days",
        _positive_int,
        455,
        "Days 1-hour rollups are kept.",
        section="telemetry",
    ),
    Setting(
        "usage_interval",
        _positive_float,
        5.0,
        "Seconds between samples of CPU, memory, GPU and disk use (at most 10).",
        section="telemetry",
    ),
    Setting(
        "health_check_timeout",
        _positive_float,
        480.0,
        "Seconds an instance may take to answer /ping on every container at start.",
        section="serving",
    ),
    Setting(
        "ping_interval",
        _positive_float,
        2.0,
        "Seconds between /ping checks of a running instance.",
        section="serving",
    ),
    Setting(
        "ping_timeout",
        _positive_float,
        2.0,
        "Seconds a /ping may take before it counts as failed.",
        section="serving",
    ),
    Setting(
        "invocation_timeout",
        _positive_float,
        60.0,
        "Seconds one invocation may take before the client gets a ModelError.",
        section="serving",
    ),
    Setting(
        "stop_grace_period",
        _positive_float,
        30.0,
        "Seconds between SIGTERM and SIGKILL when stopping a container.",
        section="serving",
    ),
    Setting(
        "loop_stall_warning",
        _non_negative_float,
        1.0,
        "Seconds the event loop may be blocked before a warning names the blocking call with "
        "its stack (0: never). The test suite runs servers at 0.5.",
    ),
    Setting(
        "otlp_endpoint",
        _optional_url,
        None,
        "OTLP/HTTP traces URL (e.g. http://127.0.0.1:4318/v1/traces): when set, every "
        "invocation, transform mini-batch and training job is traced and its spans exported "
        "there, and containers of the handler runtime trace their requests too. Unset: "
        "tracing is off. OTEL_EXPORTER_OTLP_ENDPOINT is a base URL (/v1/traces is appended).",
        section="tracing",
        standard_env=("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ),
    Setting(
        "otlp_headers",
        _otlp_headers,
        "",
        "Extra headers of every export request, as key1=value1,key2=value2.",
        section="tracing",
        standard_env=("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"),
    ),
    Setting(
        "otlp_timeout",
        _non_negative_float,
        10.0,
        "Seconds one batch's export (all its retries) may take; 0: no limit. The standard "
        "variables are in milliseconds, as OpenTelemetry specifies.",
        section="tracing",
        standard_env=("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"),
    ),
    Setting(
        "otlp_compression",
        _compression,
        "none",
        "Compression of export requests: none or gzip.",
        section="tracing",
        standard_env=("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"),
    ),
    Setting(
        "otlp_protocol",
        _protocol,
        "http/protobuf",
        "OTLP transport; only http/protobuf is implemented (grpc and http/json are refused).",
        section="tracing",
        standard_env=("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ),
    Setting(
        "traces_sampler",
        _sampler,
        "parentbased_always_on",
        "Which requests are sampled: always_on, always_off, traceidratio, "
        "parentbased_always_on, parentbased_always_off or parentbased_traceidratio "
        "(parent-based ones follow a caller's traceparent sampled flag).",
        section="tracing",
        standard_env=("OTEL_TRACES_SAMPLER",),
    ),
    Setting(
        "traces_sampler_arg",
        _ratio,
        1.0,
        "Sampling ratio (0..1) of the traceidratio samplers.",
        section="tracing",
        standard_env=("OTEL_TRACES_SAMPLER_ARG",),
    ),
    Setting(
        "trace_queue_size",
        _positive_int,
        2048,
        "Finished spans waiting for export at most; beyond it spans are dropped and counted "
        "(tandem_trace_spans_dropped_total), never waited for.",
        section="tracing",
        standard_env=("OTEL_BSP_MAX_QUEUE_SIZE",),
    ),
    Setting(
        "trace_batch_size",
        _positive_int,
        512,
        "Spans per export request at most; a full batch is exported at once.",
        section="tracing",
        standard_env=("OTEL_BSP_MAX_EXPORT_BATCH_SIZE",),
    ),
    Setting(
        "trace_export_interval",
        _positive_float,
        5.0,
        "Seconds between exports of a partial batch (OTEL_BSP_SCHEDULE_DELAY is in ms).",
        section="tracing",
        standard_env=("OTEL_BSP_SCHEDULE_DELAY",),
    ),
    Setting(
        "service_name",
        str,
        "tandem",
        "service.name of the router's spans (containers are named by their hostname).",
        section="tracing",
        standard_env=("OTEL_SERVICE_NAME",),
    ),
    Setting(
        "recent_traces",
        _positive_int,
        2000,
        "Traces kept in memory (sampled or not) for the dashboard's request view.",
        section="tracing",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path(".tandem")
    account_id: str = "000000000000"
    region: str = "us-east-1"
    auth_file: Path | None = None
    s3_endpoint_url: str = ""
    store: str = "sqlite"
    routing_resync_interval: float = 5.0
    launcher: str = "local"
    agent_server_url: str | None = None
    agent_work_dir: Path | None = None
    ray_resource_scale: float = 1.0
    agent_unreachable_limit: float = 90.0
    metrics_flush_interval: float = 5.0
    logs_flush_interval: float = 0.5
    retention_1m_days: int = 15
    retention_5m_days: int = 63
    retention_1h_days: int = 455
    usage_interval: float = 5.0
    health_check_timeout: float = 480.0
    ping_interval: float = 2.0
    ping_timeout: float = 2.0
    invocation_timeout: float = 60.0
    stop_grace_period: float = 30.0
    loop_stall_warning: float = 1.0
    otlp_endpoint: str | None = None
    otlp_headers: str = ""
    otlp_timeout: float = 10.0
    otlp_compression: str = "none"
    otlp_protocol: str = "http/protobuf"
    traces_sampler: str = "parentbased_always_on"
    traces_sampler_arg: float = 1.0
    trace_queue_size: int = 2048
    trace_batch_size: int = 512
    trace_export_interval: float = 5.0
    service_name: str = "tandem"
    recent_traces: int = 2000

    @property
    def tracing(self) -> bool:
        return self.otlp_endpoint is not None

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(
            self, **{k: _coerce(k, v, "argument") for k, v in changes.items()}
        )


def _coerce(name: str, value: Any, source: str) -> Any:
    setting = _BY_NAME.get(name)
    if setting is None:
        raise ConfigError(f"{source}: unknown setting {name!r}", field=name)
    try:
        return setting.type(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: setting {name!r}: {exc}", field=name) from exc


def load_settings(
    file: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve defaults < file < environment < flags into one frozen Settings."""
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    if file is not None:
        try:
            data = tomllib.loads(Path(file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{file}: {exc}", file=str(file)) from exc
        table = data.get("tandem", data)
        for key, value in table.items():
            values[key] = _coerce(key, value, str(file))
    env = os.environ if environ is None else environ
    # OpenTelemetry's switch for every SDK: true turns the standard variables off here too.
    standard = env.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        standard = False
    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = _coerce(setting.name, env[setting.env], setting.env)
            continue
        for name in setting.standard_env if standard else ():
            raw = env.get(name, "").strip()
            if raw:
                convert = _STANDARD_CONVERT.get(name)
                try:
                    value = convert(raw) if convert is not None else raw
                except ValueError as exc:
                    raise ConfigError(f"{name}: {exc}", field=setting.name) from exc
                values[setting.name] = _coerce(setting.name, value, name)
                break
    for key, value in (flags or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, _BY_NAME[key].flag if key in _BY_NAME else key)
    return Settings(**values)


def settings_markdown() -> str:
    """The settings reference (docs/settings.md is this text)."""
    lines = [
        "# Settings",
        "",
        "Generated from `tandem/config.py`. Precedence: defaults < settings file "
        "(`--config FILE`, TOML, keys as below, optionally under `[tandem]`) < "
        "environment < flags.",
        "",
        "| name | flag | environment | default | help |",
        "|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        env = " ".join(f"`{name}`" for name in (s.env, *s.standard_env))
        lines.append(f"| `{s.name}` | `{s.flag}` | {env} | `{s.default}` | {s.help} |")
    lines += [
        "",
        "Settings with a second environment variable also read OpenTelemetry's standard one "
        "when the `TANDEM_*` variable is unset (first listed wins; `OTEL_SDK_DISABLED=true` or "
        "`OTEL_TRACES_EXPORTER=none` turns them off). See docs/tracing.md.",
    ]
    return "\n".join(lines) + "\n"
