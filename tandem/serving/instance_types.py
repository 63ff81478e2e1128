"""What an ``ml.*`` instance type stands for: vCPUs, memory and accelerators.

A launcher that places instances on other hosts (Ray) asks for these resources; the local
launcher ignores them. Figures are AWS's published sizes for the EC2 type behind each
SageMaker type. Most families follow a rule (``large`` = 2 vCPUs, ``Nxlarge`` = 4N, a fixed
memory per vCPU); the exceptions are tables. ``docs/instance-types.md`` lists every type
SageMaker's API accepts, generated from this module by ``scripts/gen_docs.py``.
"""

from __future__ import annotations

import dataclasses
import re

from ..errors import ValidationException

__all__ = ["InstanceResources", "instance_resources", "instance_types_markdown"]

_NAME = re.compile(r"ml\.(?P<family>[a-z0-9]+(?:-[a-z0-9]+)*)\.(?P<size>medium|large|\d*xlarge)")

# GiB of memory per vCPU, by family (c: compute, m: general, r: memory optimised...).
_GIB_PER_VCPU: dict[str, float] = {
    "c4": 1.875, "c5": 2, "c5d": 2, "c6g": 2, "c6gd": 2, "c6gn": 2, "c6i": 2, "c6id": 2,
    "c6in": 2, "c7g": 2, "c7i": 2, "c7i-flex": 2, "c8g": 2, "c8i": 2, "c8i-flex": 2,
    "m4": 4, "m5": 4, "m5d": 4, "m6g": 4, "m6gd": 4, "m6i": 4, "m6id": 4, "m7i": 4,
    "m7i-flex": 4, "m8g": 4, "m8i": 4, "m8i-flex": 4,
    "r5": 8, "r5d": 8, "r6g": 8, "r6gd": 8, "r6i": 8, "r6id": 8, "r7gd": 8, "r7i": 8,
    "r8g": 8, "r8i": 8, "r8i-flex": 8,
    "g4dn": 4, "g5": 4, "g6": 4, "g6e": 8, "g7": 4, "g7e": 8,
    "inf1": 2, "inf2": 4, "trn1": 4, "trn1n": 4, "dl1": 8,
}
# Sizes whose memory breaks the family's ratio, in GiB.
_MEMORY_GIB: dict[str, float] = {
    "c4.8xlarge": 60,
    "t2.medium": 4, "t2.large": 8, "t2.xlarge": 16, "t2.2xlarge": 32,
    "t3.medium": 4, "t3.large": 8, "t3.xlarge": 16, "t3.2xlarge": 32,
    "c5n.large": 5.25, "c5n.xlarge": 10.5, "c5n.2xlarge": 21, "c5n.4xlarge": 42,
    "c5n.9xlarge": 96, "c5n.18xlarge": 192,
    "p2.xlarge": 61, "p2.8xlarge": 488, "p2.16xlarge": 732,
    "p3.2xlarge": 61, "p3.8xlarge": 244, "p3.16xlarge": 488, "p3dn.24xlarge": 768,
    "p4d.24xlarge": 1152, "p4de.24xlarge": 1152,
    "p5.4xlarge": 256, "p5.48xlarge": 2048, "p5e.48xlarge": 2048, "p5en.48xlarge": 2048,
    "p6-b200.48xlarge": 2048, "p6-b300.48xlarge": 4096, "p6e-gb200.36xlarge": 960,
    "trn2.48xlarge": 2048,
}
# The accelerator of each family, and how many a size has where it is not one.
_ACCELERATOR: dict[str, tuple[str, bool]] = {  # family -> (device, is an NVIDIA GPU)
    "g4dn": ("NVIDIA T4", True), "g5": ("NVIDIA A10G", True), "g6": ("NVIDIA L4", True),
    "g6e": ("NVIDIA L40S", True), "g7": ("NVIDIA RTX PRO 4500 Blackwell", True),
    "g7e": ("NVIDIA RTX PRO 6000 Blackwell", True), "p2": ("NVIDIA K80", True),
    "p3": ("NVIDIA V100", True), "p3dn": ("NVIDIA V100", True), "p4d": ("NVIDIA A100", True),
    "p4de": ("NVIDIA A100 80GB", True), "p5": ("NVIDIA H100", True),
    "p5e": ("NVIDIA H200", True), "p5en": ("NVIDIA H200", True),
    "p6-b200": ("NVIDIA B200", True), "p6-b300": ("NVIDIA B300", True),
    "p6e-gb200": ("NVIDIA GB200", True),
    "inf1": ("AWS Inferentia", False), "inf2": ("AWS Inferentia2", False),
    "trn1": ("AWS Trainium", False), "trn1n": ("AWS Trainium", False),
    "trn2": ("AWS Trainium2", False), "dl1": ("Intel Gaudi", False),
}
_FAMILIES = {*_GIB_PER_VCPU, *_ACCELERATOR, *(key.split(".")[0] for key in _MEMORY_GIB)}
_G_FAMILY_COUNTS = {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8}  # g5, g6, g6e, g7, g7e
_ACCELERATOR_COUNT: dict[str, int] = {
    "g4dn.12xlarge": 4,
    "p2.8xlarge": 8, "p2.16xlarge": 16, "p3.8xlarge": 4, "p3.16xlarge": 8,
    "p3dn.24xlarge": 8, "p4d.24xlarge": 8, "p4de.24xlarge": 8, "p5.48xlarge": 8,
    "p5e.48xlarge": 8, "p5en.48xlarge": 8, "p6-b200.48xlarge": 8, "p6-b300.48xlarge": 8,
    "p6e-gb200.36xlarge": 4,
    "inf1.6xlarge": 4, "inf1.24xlarge": 16, "inf2.24xlarge": 6, "inf2.48xlarge": 12,
    "trn1.32xlarge": 16, "trn1n.32xlarge": 16, "trn2.48xlarge": 16, "dl1.24xlarge": 8,
}


@dataclasses.dataclass(frozen=True, slots=True)
class InstanceResources:
    """One instance's share of a host: what a placement asks the cluster for."""

    instance_type: str
    vcpus: int
    memory_mib: int
    gpus: int  # NVIDIA GPUs: what Ray's num_gpus and CUDA_VISIBLE_DEVICES count
    accelerator: str | None  # the device's name, GPUs and other accelerators alike
    accelerators: int


def _vcpus(family: str, size: str) -> int:
    if (family, size) == ("c4", "8xlarge"):
        return 36
    if size == "medium":
        return 2 if family in ("t2", "t3") else 1
    if size == "large":
        return 2
    return 4 * int(size.removesuffix("xlarge") or 1)


def instance_resources(instance_type: str) -> InstanceResources:
    """The resources of ``instance_type``; ``ValidationException`` for a name tandem does not
    know."""
    match = _NAME.fullmatch(instance_type)
    family = match["family"] if match else ""
    if not match or family not in _FAMILIES:
        raise ValidationException(
            f"InstanceType {instance_type!r} is not an ml.* instance type tandem knows "
            "(docs/instance-types.md)",
            field="InstanceType",
        )
    size = match["size"]
    key = f"{family}.{size}"
    vcpus = _vcpus(family, size)
    memory_gib = _MEMORY_GIB.get(key)
    if memory_gib is None:
        if family not in _GIB_PER_VCPU:
            raise ValidationException(
                f"InstanceType {instance_type!r}: tandem has no size {size!r} of {family!r} "
                "(docs/instance-types.md)",
                field="InstanceType",
            )
        memory_gib = vcpus * _GIB_PER_VCPU[family]
    device, is_gpu = _ACCELERATOR.get(family, (None, False))
    count = 0
    if device is not None:
        count = _ACCELERATOR_COUNT.get(key) or (
            _G_FAMILY_COUNTS.get(size, 1) if family in ("g5", "g6", "g6e", "g7", "g7e") else 1
        )
    return InstanceResources(
        instance_type=instance_type,
        vcpus=vcpus,
        memory_mib=round(memory_gib * 1024),
        gpus=count if is_gpu else 0,
        accelerator=device,
        accelerators=count,
    )


def instance_types_markdown(names: set[str]) -> str:
    """docs/instance-types.md: every type in ``names`` (the API's enums) with its resources."""
    def order(name: str) -> tuple[str, int, int]:
        resources = instance_resources(name)
        return (name.split(".")[1], resources.vcpus, resources.memory_mib)

    lines = [
        "# Instance types",
        "",
        "Generated from `tandem/serving/instance_types.py` by `scripts/gen_docs.py`. Every "
        "`ml.*` type SageMaker's API accepts for a production variant, a training job, a "
        "transform job or a notebook instance, with the resources it stands for. The local "
        "launcher runs an instance as processes on this machine whatever its type; a launcher "
        "that places instances on other hosts (`--launcher ray://...`) asks the cluster for "
        "these vCPUs, this memory and these NVIDIA GPUs (other accelerators are named, not "
        "requested). A type outside this list is refused with `ValidationException`, as on AWS.",
        "",
        "Figures are AWS's published sizes, except where none was at hand when the table was "
        "written: G7 and G7e follow G6e's pattern (1 GPU, but 4 at 12xlarge and 24xlarge and "
        "8 at 48xlarge; G7 with G6's memory per vCPU), and P6e-GB200's memory is taken as "
        "960 GiB.",
        "",
        "| instance type | vCPUs | memory (GiB) | NVIDIA GPUs | accelerator |",
        "|---|---|---|---|---|",
    ]
    for name in sorted(names, key=order):
        r = instance_resources(name)
        device = f"{r.accelerators} x {r.accelerator}" if r.accelerator else ""
        lines.append(
            f"| `{name}` | {r.vcpus} | {r.memory_mib / 1024:g} | {r.gpus} | {device} |"
        )
    return "\n".join(lines) + "\n"
