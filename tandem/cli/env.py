"""``tandem env``: the environment that points every AWS SDK and the AWS CLI at tandem.

botocore reads ``AWS_ENDPOINT_URL`` for every service, so boto3's sagemaker,
sagemaker-runtime, cloudwatch, logs, s3 and sts clients, the AWS CLI and the SageMaker SDK
reach tandem with no code change: ``eval "$(tandem env)"``.
"""

from __future__ import annotations

import shlex

import click

from .common import url_option

__all__ = ["env"]


def exports(url: str, region: str, key_id: str, secret: str, shell: str) -> str:
    values = {
        "AWS_ENDPOINT_URL": url.rstrip("/"),
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
    if shell == "fish":
        lines = [f"set -gx {name} {shlex.quote(value)};" for name, value in values.items()]
    else:
        lines = [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
    return "\n".join(lines)


@click.command("env")
@url_option
@click.option("--region", default="us-east-1", show_default=True, help="AWS region to sign for.")
@click.option(
    "--access-key-id",
    default="test",
    show_default=True,
    help="Access key to sign with (any works unless the server runs with --auth).",
)
@click.option("--secret-access-key", default="test", show_default=True)
@click.option("--shell", type=click.Choice(["sh", "fish"]), default="sh", show_default=True)
def env(url: str, region: str, access_key_id: str, secret_access_key: str, shell: str) -> None:
    """Print the exports that point AWS SDKs and the AWS CLI at this tandem server
    (eval "$(tandem env)")."""
    click.echo(exports(url, region, access_key_id, secret_access_key, shell))
