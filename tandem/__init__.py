"""tandem: multi-container inference pipelines on your own machines, with SageMaker/CloudWatch telemetry."""

__all__ = ["__version__"]

__version__ = "0.1.0"
