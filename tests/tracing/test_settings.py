"""Tracing settings: flags, TANDEM_* and OpenTelemetry's standard variables, in that order."""

from __future__ import annotations

import pytest

from tandem.config import Settings, load_settings
from tandem.errors import ConfigError
from tandem.runtime.tracing import TraceSettings
from tandem.telemetry.tracing import Tracing


def test_off_by_default() -> None:
    settings = load_settings(environ={})
    assert settings.otlp_endpoint is None and not settings.tracing


def test_standard_variables_are_read_with_their_units() -> None:
    s = load_settings(environ={
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/base/",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_BSP_MAX_QUEUE_SIZE": "100",
        "OTEL_SERVICE_NAME": "router",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=secret,x=1",
    })
    assert s.otlp_endpoint == "http://collector:4318/base/v1/traces"
    assert s.otlp_timeout == 2.5 and s.trace_export_interval == 0.2
    assert (s.traces_sampler, s.traces_sampler_arg) == ("parentbased_traceidratio", 0.25)
    assert s.trace_queue_size == 100 and s.service_name == "router"
    assert s.otlp_headers == "api-key=secret,x=1"


def test_precedence_flag_over_tandem_over_signal_over_base() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318",
           "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://signal:4318/custom"}
    assert load_settings(environ=env).otlp_endpoint == "http://signal:4318/custom"
    env["TANDEM_OTLP_ENDPOINT"] = "http://tandem:4318/v1/traces"
    assert load_settings(environ=env).otlp_endpoint == "http://tandem:4318/v1/traces"
    flags = {"otlp_endpoint": "http://flag:1/v1/traces"}
    assert load_settings(flags=flags, environ=env).otlp_endpoint == "http://flag:1/v1/traces"


@pytest.mark.parametrize("switch", [{"OTEL_SDK_DISABLED": "TRUE"},
                                    {"OTEL_TRACES_EXPORTER": "none"}])
def test_sdk_disabled_turns_the_standard_variables_off(switch: dict[str, str]) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318", **switch}
    assert load_settings(environ=env).otlp_endpoint is None


@pytest.mark.parametrize("env", [
    {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
    {"OTEL_TRACES_SAMPLER": "jaeger_remote"},
    {"OTEL_TRACES_SAMPLER_ARG": "2"},
    {"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"},
    {"TANDEM_OTLP_ENDPOINT": "collector:4318"},
    {"OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
])
def test_bad_values_are_refused_by_name(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert next(iter(env)) in info.value.message


def test_containers_get_the_standard_variables_and_keep_their_own() -> None:
    settings = Settings(otlp_endpoint="http://127.0.0.1:4318/v1/traces", otlp_timeout=2.0,
                        traces_sampler="parentbased_traceidratio", traces_sampler_arg=0.5)
    tracing = Tracing(settings)
    env = tracing.container_environment("model")
    assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == "http://127.0.0.1:4318/v1/traces"
    assert env["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"] == "2000"
    assert env["OTEL_SERVICE_NAME"] == "model"
    merged = tracing.with_environment({"OTEL_SERVICE_NAME": "mine", "A": "1"}, env)
    assert merged["OTEL_SERVICE_NAME"] == "mine" and merged["A"] == "1"
    # What the handler runtime reads back from them.
    back = TraceSettings.from_env(env)
    assert back is not None
    assert (back.endpoint, back.service_name, back.sampler, back.ratio, back.timeout) == (
        "http://127.0.0.1:4318/v1/traces", "model", "parentbased_traceidratio", 0.5, 2.0)
    assert TraceSettings.from_env({**env, "OTEL_SDK_DISABLED": "true"}) is None
    assert TraceSettings.from_env({}) is None
