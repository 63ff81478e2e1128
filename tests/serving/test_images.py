"""How an Image is run: framework names, local serve directories, Docker."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tandem.serving.images import (
    ImageError,
    ImageKind,
    classify_image,
    is_framework_image,
    probe_docker,
    repository_name,
)

DLC = "763104351884.dkr.ecr.us-east-1.amazonaws.com/"

FRAMEWORK_IMAGES = [
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
    "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-scikit-learn:0.23-1-cpu-py3",
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
    "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-xgboost:1.5-1",
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-sparkml-serving:3.3",
    DLC + "pytorch-inference:2.1.0-cpu-py310",
    "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:"
    "2.3.0-gpu-py311-cu121-ubuntu20.04-sagemaker",
    DLC + "pytorch-inference-graviton:2.2.1-cpu-py310-ubuntu20.04-sagemaker",
    "763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-inference-neuronx:"
    "1.13.1-neuronx-py310-sdk2.18.2-ubuntu20.04",
    DLC + "tensorflow-inference:2.13-cpu",
    DLC + "tensorflow-inference:2.14.1-gpu-py310-cu118-ubuntu20.04-sagemaker",
    DLC + "huggingface-pytorch-inference:2.1.0-transformers4.37.0-gpu-py310-cu118-ubuntu20.04",
    DLC + "huggingface-tensorflow-inference:2.11.1-transformers4.26.0-cpu-py39-ubuntu20.04",
    DLC + "mxnet-inference:1.9.0-cpu-py38",
    DLC + "autogluon-inference:1.0.0-cpu-py310",
    "520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tensorflow-serving:1.15.0-cpu",
    "520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-mxnet-serving:1.4.1-cpu-py3",
    "520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-pytorch:1.0.0-cpu-py3",
    "520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-chainer:5.0.0-cpu-py3",
    "sagemaker-scikit-learn:1.2-1-cpu-py3",
    "localhost:5000/sagemaker-xgboost:1.7-1",
    DLC + "pytorch-inference@sha256:" + "a" * 64,
    DLC + "PyTorch-Inference:2.1.0-cpu-py310",
]

OTHER_IMAGES = [
    DLC + "huggingface-pytorch-tgi-inference:2.1.1-tgi2.0.0-gpu-py310-cu121-ubuntu22.04",
    DLC + "djl-inference:0.27.0-deepspeed0.12.6-cu121",
    DLC + "pytorch-training:2.1.0-cpu-py310",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:latest",
    "nginx:1.25",
    "ghcr.io/acme/sagemaker-scikit-learn-extended:1",
]


@pytest.mark.parametrize("image", FRAMEWORK_IMAGES)
def test_framework_images_run_in_the_handler_runtime(image, tmp_path):
    assert is_framework_image(image)
    choice = classify_image(image, base_dir=tmp_path, docker_probe=lambda host: False)
    assert (choice.kind, choice.image) == (ImageKind.HANDLER_RUNTIME, image)


@pytest.mark.parametrize("image", OTHER_IMAGES)
def test_other_images_are_not_framework_images(image):
    assert not is_framework_image(image)


def test_repository_name_strips_registry_tag_and_digest():
    assert repository_name("localhost:5000/team/sagemaker-xgboost:1.7-1@sha256:abc") == (
        "sagemaker-xgboost")


def test_missing_image_means_the_handler_runtime(tmp_path):
    assert classify_image(None, base_dir=tmp_path).kind is ImageKind.HANDLER_RUNTIME


def make_serve_dir(path: Path, executable: bool = True) -> Path:
    path.mkdir(parents=True)
    (path / "serve").write_text("#!/bin/sh\nexit 0\n")
    (path / "serve").chmod(0o755 if executable else 0o644)
    return path


@pytest.mark.parametrize("spelling", ["./byoc", "byoc", "file://{base}/byoc", "{base}/byoc"])
def test_a_directory_with_serve_runs_that_program(spelling, tmp_path):
    directory = make_serve_dir(tmp_path / "byoc")
    choice = classify_image(spelling.format(base=tmp_path), base_dir=tmp_path,
                            docker_probe=lambda host: pytest.fail("must not probe"))
    assert (choice.kind, choice.directory, choice.program) == (
        ImageKind.SERVE_PROGRAM, directory, directory / "serve")


def test_a_directory_without_executable_serve_is_an_error(tmp_path):
    make_serve_dir(tmp_path / "byoc", executable=False)
    with pytest.raises(ImageError) as caught:
        classify_image("./byoc", base_dir=tmp_path, field="Containers[0].Image")
    assert str(caught.value) == (f"Containers[0].Image: './byoc' names the local directory "
                                 f"{tmp_path / 'byoc'}, which holds no executable 'serve' program")


def test_a_missing_explicit_directory_is_an_error(tmp_path):
    with pytest.raises(ImageError, match="which does not exist"):
        classify_image("./nowhere", base_dir=tmp_path)


def test_a_real_image_without_docker_is_a_clear_error(tmp_path):
    probed = []
    with pytest.raises(ImageError) as caught:
        classify_image("nginx:1.25", base_dir=tmp_path, field="Containers[1].Image",
                       docker_host="unix:///nonexistent.sock",
                       docker_probe=lambda host: probed.append(host) or False)
    assert probed == ["unix:///nonexistent.sock"]
    assert str(caught.value).startswith(
        "Containers[1].Image: 'nginx:1.25' is a container image, and no Docker engine answers "
        "at unix:///nonexistent.sock.")
    assert caught.value.image == "nginx:1.25"


def test_a_real_image_with_docker_runs_in_docker(tmp_path):
    choice = classify_image("nginx:1.25", base_dir=tmp_path, docker_probe=lambda host: True)
    assert choice.kind is ImageKind.DOCKER


def test_probe_docker_on_a_missing_socket_is_false(tmp_path):
    assert probe_docker(f"unix://{tmp_path}/docker.sock", timeout=0.2) is False
    assert probe_docker("ssh://user@host", timeout=0.2) is False


def test_probe_docker_sees_an_engine_answering_over_unix_socket(tmp_path):
    path = str(tmp_path / "d.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        assert probe_docker(f"unix://{path}", timeout=2) is True
    finally:
        thread.join()
        server.close()


def test_probe_docker_over_tcp_that_does_not_answer_is_false():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        # Accepted by the kernel but never answered: the short timeout decides.
        assert probe_docker(f"tcp://127.0.0.1:{port}", timeout=0.2) is False
    finally:
        listener.close()
