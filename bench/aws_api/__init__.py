"""moto's server mode against tandem with real boto3: the six figures of the issue
"boto3 and the AWS CLI work unchanged", each beside a stub replaying each server's bodies.

Run ``python -m bench.aws_api [--quick] [--events N]``; see docs/performance/aws-api.md.
"""

__all__: list[str] = []
