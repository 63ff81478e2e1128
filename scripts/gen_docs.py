"""Regenerate the docs that come from code: docs/settings.md, docs/cli.md, docs/instance-types.md.

Run: .venv/bin/python scripts/gen_docs.py   (tests/test_docs.py fails when they are stale)
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tandem.api.model_rules import INSTANCE_TYPE_SHAPES, _table  # noqa: E402
from tandem.cli.app import cli  # noqa: E402
from tandem.config import settings_markdown  # noqa: E402
from tandem.serving.instance_types import instance_types_markdown  # noqa: E402


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name in sorted(group.commands):
        command = group.commands[name]
        path = f"{prefix} {name}"
        out.append((path, command))
        if isinstance(command, click.Group):
            out += _commands(command, path)
    return out


def cli_markdown() -> str:
    lines = [
        "# The `tandem` command",
        "",
        "Generated from the click commands by `scripts/gen_docs.py`. Every command but "
        "`serve` talks to a server over HTTP (`--url`, default http://127.0.0.1:8080, or "
        "`TANDEM_URL`).",
        "",
    ]
    for path, command in [("tandem", cli), *_commands(cli, "tandem")]:
        with click.Context(
            command,
            info_name=path,
            terminal_width=100,
            max_content_width=100,
            help_option_names=["-h", "--help"],
        ) as ctx:
            help_text = command.get_help(ctx)
        lines += [f"## `{path}`", "", "```", help_text.rstrip(), "```", ""]
    return "\n".join(lines)


def api_instance_types() -> set[str]:
    """Every instance type SageMaker's API accepts anywhere (botocore's enums)."""
    shapes = _table()["sagemaker"]["shapes"]
    return {name for shape in INSTANCE_TYPE_SHAPES for name in shapes[shape]["enum"]}


def render() -> dict[Path, str]:
    return {
        ROOT / "docs" / "settings.md": settings_markdown(),
        ROOT / "docs" / "cli.md": cli_markdown(),
        ROOT / "docs" / "instance-types.md": instance_types_markdown(api_instance_types()),
    }


if __name__ == "__main__":
    for path, text in render().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
