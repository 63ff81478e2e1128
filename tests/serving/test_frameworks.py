"""Which framework image's defaults an Image selects, in every registry, region and tag form."""

from __future__ import annotations

import pytest

from tandem.serving.frameworks import Framework, framework_of
from tandem.serving.images import is_framework_image

CASES = [
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1.0-cpu-py310",
     Framework.PYTORCH),
    ("763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:2.1.0-gpu-py310-cu118-ubuntu20.04-sagemaker",
     Framework.PYTORCH),
    ("pytorch-inference-graviton:2.0", Framework.PYTORCH),
    ("520713654638.dkr.ecr.us-west-2.amazonaws.com/sagemaker-pytorch:1.5.0-cpu-py3",
     Framework.PYTORCH),
    ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", Framework.XGBOOST),
    ("811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1", Framework.XGBOOST),
    ("sagemaker-xgboost@sha256:" + "ab" * 32, Framework.XGBOOST),
    ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
     Framework.SKLEARN),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.13-cpu",
     Framework.TENSORFLOW),
    ("520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tensorflow-serving:1.12-cpu",
     Framework.TENSORFLOW),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:"
     "2.1.0-transformers4.37.0-cpu-py310-ubuntu22.04", Framework.HUGGINGFACE),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/mxnet-inference:1.9-cpu", Framework.GENERIC),
    ("", Framework.GENERIC),
    (None, Framework.GENERIC),
]


@pytest.mark.parametrize(("image", "expected"), CASES)
def test_framework_of_image(image, expected):
    assert framework_of(image) is expected


def test_every_named_framework_image_runs_in_the_handler_runtime():
    for image, framework in CASES:
        if image and framework is not Framework.GENERIC:
            assert is_framework_image(image), image


def test_lookalike_repositories_select_no_framework():
    for image in ("my-xgboost-server:1", "pytorch-inference-custom-thing/x:1", "xgboostish"):
        assert framework_of(image) is Framework.GENERIC, image


def test_every_framework_is_one_the_runtime_accepts():
    from tandem.runtime.frameworks import FRAMEWORKS

    assert {f.value for f in Framework} == set(FRAMEWORKS)
