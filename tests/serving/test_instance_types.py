"""Instance types: the resources each ml.* name stands for, and every API enum value covered."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tandem.errors import ValidationException
from tandem.serving.instance_types import InstanceResources, instance_resources

ROOT = Path(__file__).resolve().parents[2]


def _api_instance_types() -> set[str]:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names: set[str] = module.api_instance_types()
    return names


@pytest.mark.parametrize(
    ("name", "vcpus", "memory_gib", "gpus", "accelerator", "accelerators"),
    [
        ("ml.m5.large", 2, 8, 0, None, 0),
        ("ml.t2.medium", 2, 4, 0, None, 0),
        ("ml.c6g.medium", 1, 2, 0, None, 0),
        ("ml.c4.8xlarge", 36, 60, 0, None, 0),
        ("ml.c5n.18xlarge", 72, 192, 0, None, 0),
        ("ml.r5.24xlarge", 96, 768, 0, None, 0),
        ("ml.g4dn.xlarge", 4, 16, 1, "NVIDIA T4", 1),
        ("ml.g4dn.12xlarge", 48, 192, 4, "NVIDIA T4", 4),
        ("ml.g5.16xlarge", 64, 256, 1, "NVIDIA A10G", 1),
        ("ml.g5.48xlarge", 192, 768, 8, "NVIDIA A10G", 8),
        ("ml.g6e.xlarge", 4, 32, 1, "NVIDIA L40S", 1),
        ("ml.p3.2xlarge", 8, 61, 1, "NVIDIA V100", 1),
        ("ml.p4d.24xlarge", 96, 1152, 8, "NVIDIA A100", 8),
        ("ml.p5.48xlarge", 192, 2048, 8, "NVIDIA H100", 8),
        ("ml.inf2.48xlarge", 192, 768, 0, "AWS Inferentia2", 12),
        ("ml.trn1.32xlarge", 128, 512, 0, "AWS Trainium", 16),
    ],
)
def test_published_sizes(
    name: str,
    vcpus: int,
    memory_gib: float,
    gpus: int,
    accelerator: str | None,
    accelerators: int,
) -> None:
    assert instance_resources(name) == InstanceResources(
        name, vcpus, round(memory_gib * 1024), gpus, accelerator, accelerators
    )


def test_every_type_the_api_accepts_has_resources() -> None:
    names = _api_instance_types()
    assert len(names) >= 300 and "ml.m5.large" in names
    for name in names:
        resources = instance_resources(name)
        assert resources.vcpus >= 1 and resources.memory_mib >= 2048, name
        assert resources.gpus <= resources.accelerators, name


@pytest.mark.parametrize("name", ["ml.m5.huge", "m5.large", "ml.q9.large", "ml.p5.2xlarge", ""])
def test_unknown_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationException) as info:
        instance_resources(name)
    assert info.value.code == "ValidationException" and repr(name) in str(info.value)
