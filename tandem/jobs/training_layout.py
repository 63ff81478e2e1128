"""The SageMaker training layout of one host, and the SM_* environment of its process.

Each host ``algo-k`` of a job gets its own ``/opt/ml``-shaped directory under the job's
directory (paths are real local paths, not ``/opt/ml``)::

    algo-k/input/config/{hyperparameters,resourceconfig,inputdataconfig}.json
    algo-k/input/data/<channel>/       the channel's files
    algo-k/model/                      packed as model.tar.gz when the job ends
    algo-k/output/{data,intermediate}/ output/data packed as output.tar.gz
    algo-k/output/failure              its first 1024 characters become FailureReason
    algo-k/code/                       the unpacked sagemaker_submit_directory
    algo-k/checkpoints/                SageMaker's /opt/ml/checkpoints (CheckpointConfig
                                       LocalPath), given as ``SM_CHECKPOINT_DIR``

The environment follows sagemaker-training-toolkit (``SM_`` + upper-cased key; strings as they
are, anything else compact JSON with sorted keys; ``SM_HP_<NAME>`` keeps hyphens) plus what tandem's
cluster needs to rendezvous: each host's address and its own port (known before any host
starts), given as ``SM_HOST_ADDRESSES``, ``SM_HOST_PORTS``, ``SM_CURRENT_HOST_PORT`` and
``SM_MASTER_ADDR``/``SM_MASTER_PORT`` (also as ``MASTER_ADDR``/``MASTER_PORT``,
torch.distributed's names). On one machine every host is 127.0.0.1, told apart by its port; on
a Ray cluster each host has its node's address. Pure except ``write_config``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "HostLayout",
    "HOST_ADDRESS",
    "decode_hyperparameters",
    "to_cmd_args",
    "to_env_vars",
    "host_names",
    "resource_config",
    "training_environment",
    "write_config",
]

HOST_ADDRESS = "127.0.0.1"
NETWORK_INTERFACE = "lo"
GROUP_NAME = "homogeneousCluster"


@dataclasses.dataclass(frozen=True)
class HostLayout:
    """One host's directories (its local ``/opt/ml``)."""

    root: Path

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def data_dir(self) -> Path:
        return self.root / "input" / "data"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def intermediate_dir(self) -> Path:
        return self.root / "output" / "intermediate"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    @property
    def code_dir(self) -> Path:
        return self.root / "code"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    def create(self) -> None:
        for path in (self.config_dir, self.data_dir, self.model_dir, self.output_data_dir,
                     self.intermediate_dir, self.checkpoint_dir, self.root / "home",
                     self.root / "tmp"):
            path.mkdir(parents=True, exist_ok=True)


def host_names(count: int) -> list[str]:
    """algo-1 .. algo-N, sorted lexicographically as the toolkit sorts them."""
    return sorted(f"algo-{k}" for k in range(1, count + 1))


def decode_hyperparameters(raw: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(user hyperparameters, sagemaker_* ones), each value JSON-decoded where it parses (the
    SDK JSON-encodes every value; a plain string stays as it is)."""
    user: dict[str, Any] = {}
    framework: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            decoded = json.loads(value)
        except (TypeError, ValueError):
            decoded = value
        (framework if key.startswith("sagemaker_") else user)[key] = decoded
    return user, framework


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def to_env_vars(mapping: Mapping[str, Any]) -> dict[str, str]:
    """``SM_<KEY>``: strings as they are, None as "", anything else compact sorted JSON."""
    out = {}
    for key, value in mapping.items():
        if value is None:
            text = ""
        elif isinstance(value, str):
            text = value
        else:
            text = _compact(value)
        out["SM_" + str(key).upper()] = text
    return out


def to_cmd_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """``--name value`` pairs sorted by name (``-x`` for one-letter names); a mapping value is
    written ``k=v,k2=v2``; other values as Python's str(), as the toolkit does."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        args.append(f"--{key}" if len(key) > 1 else f"-{key}")
        if isinstance(value, Mapping):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append("" if value is None else str(value))
    return args


def resource_config(current_host: str, hosts: Sequence[str], instance_type: str) -> dict[str, Any]:
    return {
        "current_host": current_host,
        "current_instance_type": instance_type,
        "current_group_name": GROUP_NAME,
        "hosts": list(hosts),
        "instance_groups": [{"instance_group_name": GROUP_NAME, "instance_type": instance_type,
                             "hosts": list(hosts)}],
        "network_interface_name": NETWORK_INTERFACE,
    }


def training_environment(
    *,
    layout: HostLayout,
    current_host: str,
    hosts: Sequence[str],
    host_ports: Mapping[str, int],
    instance_type: str,
    hyperparameters: Mapping[str, Any],
    framework_hyperparameters: Mapping[str, Any],
    input_data_config: Mapping[str, Any],
    job_name: str,
    user_entry_point: str | None,
    module_dir: str | None,
    num_cpus: int,
    num_gpus: int,
    host_addresses: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every SM_* variable (and MASTER_ADDR/MASTER_PORT) for one host's process;
    ``host_addresses`` defaults to every host on this machine (127.0.0.1)."""
    addresses = {h: (host_addresses or {}).get(h, HOST_ADDRESS) for h in hosts}
    channels = sorted(input_data_config)
    channel_dirs = {name: str(layout.channel_dir(name)) for name in channels}
    resources = resource_config(current_host, hosts, instance_type)
    entry = user_entry_point or ""
    module_name = entry[:-3] if entry.endswith(".py") else entry
    log_level = framework_hyperparameters.get("sagemaker_container_log_level", 20)
    master = hosts[0]
    env: dict[str, Any] = {
        "hosts": list(hosts),
        "current_host": current_host,
        "current_instance_type": instance_type,
        "current_instance_group": GROUP_NAME,
        "current_instance_group_hosts": list(hosts),
        "instance_groups": [GROUP_NAME],
        "network_interface_name": NETWORK_INTERFACE,
        "hps": dict(hyperparameters),
        "user_entry_point": entry,
        "framework_params": {},
        "framework_module": "",
        "resource_config": resources,
        "input_data_config": dict(input_data_config),
        "channels": channels,
        "module_name": module_name,
        "module_dir": module_dir or "",
        "log_level": log_level,
        "input_dir": str(layout.input_dir),
        "input_config_dir": str(layout.config_dir),
        "output_dir": str(layout.output_dir),
        "output_data_dir": str(layout.output_data_dir),
        "output_intermediate_dir": str(layout.intermediate_dir),
        "model_dir": str(layout.model_dir),
        "checkpoint_dir": str(layout.checkpoint_dir),
        "num_cpus": num_cpus,
        "num_gpus": num_gpus,
        "num_neurons": 0,
        "user_args": to_cmd_args(hyperparameters),
        "job_name": job_name,
        "is_master": current_host == master,
        "master_hostname": master,
        # Where each host listens: on one machine all are 127.0.0.1, told apart by the port.
        "host_ports": {h: host_ports[h] for h in hosts},
        "host_addresses": addresses,
        "current_host_port": host_ports[current_host],
        "master_addr": addresses[master],
        "master_port": host_ports[master],
    }
    training_env = {key: value for key, value in env.items()}
    training_env["channel_input_dirs"] = channel_dirs
    training_env["hyperparameters"] = dict(hyperparameters)
    env["training_env"] = training_env
    for name, path in channel_dirs.items():
        env[f"channel_{name}"] = path
    for key, value in hyperparameters.items():
        env[f"hp_{key}"] = value
    out = to_env_vars(env)
    out["MASTER_ADDR"] = addresses[master]
    out["MASTER_PORT"] = str(host_ports[master])
    return out


def write_config(layout: HostLayout, *, hyperparameters: Mapping[str, str],
                 resources: Mapping[str, Any], input_data_config: Mapping[str, Any]) -> None:
    """input/config/*.json as SageMaker writes them (hyperparameters as the request sent them)."""
    layout.config_dir.mkdir(parents=True, exist_ok=True)
    for name, document in (("hyperparameters.json", dict(hyperparameters)),
                           ("resourceconfig.json", dict(resources)),
                           ("inputdataconfig.json", dict(input_data_config))):
        (layout.config_dir / name).write_text(json.dumps(document, indent=1, sort_keys=True))
