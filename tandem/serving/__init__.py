"""Serving: SageMaker's models, endpoint configs and endpoints, run as supervised processes.

``model`` holds the records, ``endpoints`` the control plane's facade over ``definitions``
(models, configs), ``planner`` (the supervisor's pure decisions), ``reconciler`` (the one loop
applying them), ``endpoint_status`` and ``snapshots``; ``router`` the request path,
``launcher``/``local_launcher``/``agent`` where and how an instance's containers run,
``containers``/``images``/``artifacts`` how a ContainerDefinition becomes a process, and
``deployment`` the YAML of ``tandem deploy``.
"""

from .catalog import CatalogStore
from .endpoints import EndpointManager
from .launcher import ContainerSpec, InstanceHandle, InstanceSpec, InstanceStartFailed, Launcher
from .local_launcher import LocalLauncher
from .model import Endpoint, EndpointConfig, EndpointStatus, Model, ProductionVariant
from .router import Invocation, InvocationResult, Router

__all__ = [
    "CatalogStore",
    "EndpointManager",
    "ContainerSpec",
    "InstanceHandle",
    "InstanceSpec",
    "InstanceStartFailed",
    "Launcher",
    "LocalLauncher",
    "Endpoint",
    "EndpointConfig",
    "EndpointStatus",
    "Model",
    "ProductionVariant",
    "Invocation",
    "InvocationResult",
    "Router",
]
