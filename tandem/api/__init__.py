"""Wire surfaces, thin: one module per protocol (SageMaker awsJson1_1, runtime rest-json,
CloudWatch json/query/cbor, Logs awsJson1_1, Prometheus text, the dashboard)."""

__all__: list[str] = []
