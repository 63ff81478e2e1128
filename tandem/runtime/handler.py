"""The inference handler contract: a user module's model_fn, input_fn, predict_fn, output_fn
(or transform_fn), with the toolkit's defaults, run for one request without any HTTP.

``Handler.load`` imports the module and loads the model; ``Handler.invoke`` turns a request
body into an ``InvocationResult`` whose status follows the toolkit containers:
UnsupportedFormatError in input_fn -> 415 and in output_fn -> 406 (JSON body as
sagemaker-containers writes it), a toolkit error keeps its own status, anything else -> 500
with ``message\\ntraceback`` as the body and the traceback on stderr (the container's log).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import json
import logging
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from . import codecs
from .context import Context
from .environment import RuntimeEnvironment
from .errors import UnsupportedFormatError, is_unsupported_format, toolkit_status
from .frameworks import FrameworkDefaults
from .tracing import RuntimeTracing, current_span, traced_call

__all__ = ["Handler", "InvocationResult", "HandlerContractError"]

log = logging.getLogger("tandem.runtime")


class HandlerContractError(Exception):
    """The user module breaks the handler contract (wrong arity, conflicting functions)."""


@dataclasses.dataclass(slots=True)
class InvocationResult:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] | None = None


class _Phase(Exception):
    """An UnsupportedFormatError tagged with the status its phase answers with."""

    def __init__(self, status: int, error: BaseException) -> None:
        self.status = status
        self.error = error


# The toolkit's defaults -------------------------------------------------------------------
def default_model_fn(model_dir: str) -> Any:
    raise NotImplementedError(
        "\nPlease provide a model_fn implementation.\n"
        "See documentation for model_fn at https://sagemaker.readthedocs.io/en/stable/\n"
    )


def default_input_fn(input_data: str | bytes, content_type: str) -> Any:
    return codecs.decode(input_data, content_type)


def default_predict_fn(data: Any, model: Any) -> Any:
    # The scikit-learn container calls model.predict; the bare toolkit has no default.
    predict = getattr(model, "predict", None)
    if callable(predict):
        return predict(data)
    raise NotImplementedError(
        "\nPlease provide a predict_fn implementation.\n"
        "See documentation for predict_fn at https://sagemaker.readthedocs.io/en/stable/\n"
    )


def default_output_fn(prediction: Any, accept: str) -> tuple[str | bytes, str]:
    for media_type in codecs.parse_accept(accept):
        if media_type in codecs.SUPPORTED:
            return codecs.encode(prediction, media_type), media_type
    raise UnsupportedFormatError(accept)


_TOOLKIT_DEFAULTS = FrameworkDefaults(default_model_fn, default_input_fn, default_predict_fn,
                                      default_output_fn)


def _takes_context(fn: Callable[..., Any], arity: int) -> bool:
    """Whether ``fn`` wants the trailing context, from its parameter count (toolkit rule)."""
    try:
        count = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        # Some builtins and C callables have no signature to read; call them without context.
        return False
    if count == arity:
        return False
    if count == arity + 1:
        return True
    name = getattr(fn, "__name__", repr(fn))
    raise HandlerContractError(f"{name} takes {count} arguments but {arity} (or {arity + 1} "
                               "with context) are expected")


class _Fn:
    """A handler function with its context-taking decided once, at load time."""

    __slots__ = ("fn", "with_context")

    def __init__(self, fn: Callable[..., Any], arity: int) -> None:
        self.fn = fn
        self.with_context = _takes_context(fn, arity)

    def __call__(self, context: Context | None, *args: Any) -> Any:
        if self.with_context:
            return self.fn(*args, context)
        return self.fn(*args)


def import_user_module(code_dir: Path, module_name: str) -> ModuleType | None:
    """Import the user's module from ``code_dir``; None when there is no such module."""
    if not code_dir.is_dir():
        return None
    requirements = code_dir / "requirements.txt"
    if requirements.is_file():
        log.warning("not installing %s: tandem installs nothing at run time (no network); "
                    "install its packages into tandem's Python environment", requirements)
    # First on sys.path, so the module's sibling files import as they do in the toolkit.
    sys.path.insert(0, str(code_dir))
    if importlib.util.find_spec(module_name) is None:
        return None
    return importlib.import_module(module_name)


class Handler:
    """A loaded model with the functions that serve it."""

    def __init__(self, module: ModuleType | None, env: RuntimeEnvironment,
                 defaults: FrameworkDefaults | None = None) -> None:
        self.model_dir = str(env.model_dir)
        self.default_accept = env.default_accept
        # A framework image's defaults stand in for the toolkit's; the user's module wins.
        framework = defaults or _TOOLKIT_DEFAULTS

        def pick(name: str) -> Callable[..., Any]:
            found: Callable[..., Any] = getattr(module, name, None) or getattr(framework, name)
            return found

        user_transform = getattr(module, "transform_fn", None)
        if user_transform and any(
            getattr(module, n, None) for n in ("input_fn", "predict_fn", "output_fn")
        ):
            raise HandlerContractError(
                "Cannot use transform_fn implementation in conjunction with input_fn, "
                "predict_fn, and/or output_fn implementation"
            )
        self._model_fn = _Fn(pick("model_fn"), 1)
        self._transform_fn = _Fn(user_transform, 4) if user_transform else None
        self._input_fn = _Fn(pick("input_fn"), 2)
        self._predict_fn = _Fn(pick("predict_fn"), 2)
        self._output_fn = _Fn(pick("output_fn"), 2)
        fns = [self._model_fn, self._input_fn, self._predict_fn, self._output_fn]
        fns += [self._transform_fn] if self._transform_fn else []
        # Building a Context per request costs little, but nothing at all when no one reads it.
        self._wants_context = any(fn.with_context for fn in fns)
        self.model: Any = None
        # Tracing on: each request function is timed as a child span (decided once, here).
        self.tracing = RuntimeTracing(env.tracing) if env.tracing is not None else None
        if self.tracing is not None:
            for name in ("input_fn", "predict_fn", "output_fn", "transform_fn"):
                fn = getattr(self, f"_{name}")
                if fn is not None:
                    fn.fn = traced_call(name, fn.fn)

    @classmethod
    def load(cls, env: RuntimeEnvironment, defaults: FrameworkDefaults | None = None) -> Handler:
        """Import the module named by SAGEMAKER_PROGRAM and load the model (model_fn)."""
        module = import_user_module(env.code_dir, env.module_name)
        if module is None:
            log.warning("no %s in %s: using the default handler functions",
                        env.program, env.code_dir)
        handler = cls(module, env, defaults)
        pre_model_fn = getattr(module, "pre_model_fn", None)
        if pre_model_fn is not None:
            pre_model_fn(handler.model_dir)
        handler.model = handler._model_fn(Context(handler.model_dir), handler.model_dir)
        warmup = getattr(module, "model_warmup_fn", None)
        if warmup is not None:
            warmup(handler.model_dir, handler.model)
        return handler

    def invoke(self, body: bytes, content_type: str, accept: str,
               headers: Mapping[str, str]) -> InvocationResult:
        """Serve one request. ``content_type`` and ``accept`` are already defaulted."""
        tracing = self.tracing
        if tracing is None:
            return self._invoke(body, content_type, accept, headers)
        span, token = tracing.begin(headers)
        status = 500
        try:
            result = self._invoke(body, content_type, accept, headers)
            status = result.status
        finally:
            tracing.end(span, token, status)
        return result

    def _invoke(self, body: bytes, content_type: str, accept: str,
                headers: Mapping[str, str]) -> InvocationResult:
        context = Context(self.model_dir, headers) if self._wants_context else None
        try:
            data: str | bytes = body
            if content_type in codecs.UTF8_TYPES:
                data = body.decode("utf-8")
            if self._transform_fn is not None:
                result = self._transform_fn(context, self.model, data, content_type, accept)
            else:
                result = self._default_transform(context, data, content_type, accept)
            out = self._response(result, accept)
        except _Phase as phase:
            return _format_error(phase.status, phase.error)
        except Exception as error:  # noqa: BLE001 - every handler failure is the client's answer
            status = toolkit_status(error)
            if status is None and is_unsupported_format(error):
                # From a user transform_fn: we cannot tell the phase; the client sent a type
                # this handler refuses, which is what 415 says.
                return _format_error(415, error)
            return _format_failure(status or 500, error)
        if context is not None and context.response_headers:
            out.headers = context.response_headers
        return out

    def _default_transform(self, context: Context | None, data: str | bytes,
                           content_type: str, accept: str) -> Any:
        try:
            decoded = self._input_fn(context, data, content_type)
        except Exception as error:
            if is_unsupported_format(error):
                raise _Phase(415, error) from error
            raise
        prediction = self._predict_fn(context, decoded, self.model)
        try:
            return self._output_fn(context, prediction, accept)
        except Exception as error:
            if is_unsupported_format(error):
                raise _Phase(406, error) from error
            raise

    @staticmethod
    def _response(result: Any, accept: str) -> InvocationResult:
        if isinstance(result, tuple) and len(result) == 2:
            body, content_type = result
        else:
            # The toolkit answers with the Accept value; with several types, the first one.
            body, content_type = result, accept.split(",", 1)[0].strip()
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif isinstance(body, bytearray | memoryview):
            body = bytes(body)
        elif not isinstance(body, bytes):
            raise TypeError(f"the handler returned {type(body).__name__}; output_fn and "
                            "transform_fn must return bytes, str or (body, content_type)")
        return InvocationResult(200, body, str(content_type))


def _format_error(status: int, error: BaseException) -> InvocationResult:
    trace = "".join(traceback.format_exception(error))
    log.info("answering %d: %s: %s", status, type(error).__name__, error)
    body = json.dumps({"error": type(error).__name__, "error-message": str(error),
                       "stack-trace": trace})
    return InvocationResult(status, body.encode("utf-8"), codecs.JSON)


def _format_failure(status: int, error: BaseException) -> InvocationResult:
    trace = "".join(traceback.format_exception(error))
    if current_span() is not None:
        # A log record carries the request's trace id; the traceback's lines cannot.
        log.error("answering %d: %s: %s", status, type(error).__name__, error)
    # Printed whole so it lands in the container's log stream, as the toolkit's does.
    print(trace, end="", file=sys.stderr, flush=True)
    message = getattr(error, "message", None)
    if not isinstance(message, str):
        message = str(error) or type(error).__name__
    if 400 <= status < 500:
        # The client's mistake: it gets the message; the traceback stays in the log.
        return InvocationResult(status, message.encode(), "text/plain")
    return InvocationResult(status, f"{message}\n{trace}".encode(), "text/plain")
