"""``python -m tandem.runtime --model-dir DIR``: the built-in handler runtime container."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import traceback
from pathlib import Path

from .compat import install_toolkit_aliases
from .environment import RuntimeConfigError, RuntimeEnvironment
from .frameworks import FRAMEWORKS, defaults_for
from .handler import Handler
from .server import serve
from .tracing import TraceLogFilter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tandem.runtime",
                                     description="Serve an inference.py handler module.")
    parser.add_argument("--model-dir", required=True, type=Path,
                        help="the model directory (SageMaker's /opt/ml/model)")
    parser.add_argument("--framework", choices=FRAMEWORKS, default="generic",
                        help="whose framework image's default handler functions apply")
    args = parser.parse_args(argv)
    try:
        env = RuntimeEnvironment.from_env(os.environ, args.model_dir.resolve())
    except RuntimeConfigError as error:
        print(f"tandem.runtime: {error}", file=sys.stderr)
        return 2
    log_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if env.tracing is not None:
        # Lines logged while a request is served end with its trace_id, span_id, trace_flags.
        log_format += "%(trace_context)s"
    logging.basicConfig(level=env.log_level, stream=sys.stderr, format=log_format)
    if env.tracing is not None:
        for log_handler in logging.getLogger().handlers:
            log_handler.addFilter(TraceLogFilter())
    install_toolkit_aliases()
    try:
        defaults = defaults_for(args.framework)
        if defaults is not None and defaults.default_accept and not os.environ.get(
                "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "").strip():
            env = dataclasses.replace(env, default_accept=defaults.default_accept)
        handler = Handler.load(env, defaults)
    except BaseException:  # noqa: BLE001 - any failure to load is the container failing to boot
        print("tandem.runtime: failed to load the handler module or the model", file=sys.stderr)
        traceback.print_exc()
        return 1
    try:
        return serve(handler, env)
    except OSError as error:
        print(f"tandem.runtime: cannot serve on {env.host}:{env.port}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
