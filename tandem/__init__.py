"""tandem: multi-container inference pipelines on your own machines, watched like SageMaker."""

__all__ = ["__version__"]

__version__ = "0.1.0"
