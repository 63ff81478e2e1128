"""The SM_* environment and script arguments, as sagemaker-training-toolkit builds them."""

from __future__ import annotations

import json
from pathlib import Path

from tandem.jobs.training_layout import (
    HostLayout,
    decode_hyperparameters,
    host_names,
    to_cmd_args,
    training_environment,
)


def test_hyperparameters_are_json_decoded_and_sagemaker_keys_split_off() -> None:
    user, framework = decode_hyperparameters({
        "epochs": "3", "learning-rate": "0.1", "name": '"x"', "plain": "hello",
        "sagemaker_program": '"train.py"'})
    assert user == {"epochs": 3, "learning-rate": 0.1, "name": "x", "plain": "hello"}
    assert framework == {"sagemaker_program": "train.py"}


def test_cmd_args_sorted_short_flags_and_dicts() -> None:
    assert to_cmd_args({"b": 1, "alpha": True, "opts": {"y": 2, "x": 1}}) == [
        "--alpha", "True", "-b", "1", "--opts", "x=1,y=2"]


def test_host_names_sort_lexicographically() -> None:
    assert host_names(10)[:3] == ["algo-1", "algo-10", "algo-2"]


def test_environment_names_paths_hosts_and_ports(tmp_path: Path) -> None:
    layout = HostLayout(tmp_path / "algo-2")
    env = training_environment(
        layout=layout, current_host="algo-2", hosts=["algo-1", "algo-2"],
        host_ports={"algo-1": 4001, "algo-2": 4002}, instance_type="ml.m5.large",
        hyperparameters={"learning-rate": 0.1, "epochs": 2, "tag": "a"},
        framework_hyperparameters={}, input_data_config={"train": {}, "test": {}},
        job_name="job", user_entry_point="train.py", module_dir="/code", num_cpus=4,
        num_gpus=0)
    assert env["SM_MODEL_DIR"] == str(layout.model_dir)
    assert env["SM_CHANNELS"] == '["test","train"]'
    assert env["SM_CHANNEL_TRAIN"] == str(layout.channel_dir("train"))
    assert env["SM_HPS"] == '{"epochs":2,"learning-rate":0.1,"tag":"a"}'
    assert env["SM_HP_LEARNING-RATE"] == "0.1" and env["SM_HP_TAG"] == "a"
    assert env["SM_HOSTS"] == '["algo-1","algo-2"]' and env["SM_CURRENT_HOST"] == "algo-2"
    assert env["SM_HOST_PORTS"] == '{"algo-1":4001,"algo-2":4002}'
    assert env["SM_CURRENT_HOST_PORT"] == "4002"
    assert (env["MASTER_ADDR"], env["MASTER_PORT"]) == ("127.0.0.1", "4001")
    assert env["SM_NUM_CPUS"] == "4" and env["SM_NUM_GPUS"] == "0"
    assert env["SM_USER_ARGS"] == '["--epochs","2","--learning-rate","0.1","--tag","a"]'
    assert env["SM_MODULE_NAME"] == "train"
    assert env["SM_OUTPUT_DATA_DIR"] == str(layout.output_data_dir)
    assert env["SM_INPUT_CONFIG_DIR"] == str(layout.config_dir)
    training = json.loads(env["SM_TRAINING_ENV"])
    assert training["hosts"] == ["algo-1", "algo-2"]
    assert training["channel_input_dirs"]["train"] == str(layout.channel_dir("train"))


def test_environment_names_each_host_s_address(tmp_path: Path) -> None:
    env = training_environment(
        layout=HostLayout(tmp_path / "algo-2"), current_host="algo-2",
        hosts=["algo-1", "algo-2"], host_ports={"algo-1": 4001, "algo-2": 4002},
        host_addresses={"algo-1": "10.1.0.2", "algo-2": "10.1.0.3"},
        instance_type="ml.m5.large", hyperparameters={}, framework_hyperparameters={},
        input_data_config={}, job_name="job", user_entry_point="train.py", module_dir=None,
        num_cpus=1, num_gpus=0)
    assert env["SM_HOST_ADDRESSES"] == '{"algo-1":"10.1.0.2","algo-2":"10.1.0.3"}'
    assert (env["SM_MASTER_ADDR"], env["SM_MASTER_PORT"]) == ("10.1.0.2", "4001")
    assert (env["MASTER_ADDR"], env["MASTER_PORT"]) == ("10.1.0.2", "4001")
    assert env["SM_HOSTS"] == '["algo-1","algo-2"]'
    assert json.loads(env["SM_TRAINING_ENV"])["host_addresses"]["algo-1"] == "10.1.0.2"


def test_environment_without_addresses_is_all_loopback(tmp_path: Path) -> None:
    env = training_environment(
        layout=HostLayout(tmp_path / "algo-1"), current_host="algo-1",
        hosts=["algo-1", "algo-2"], host_ports={"algo-1": 4001, "algo-2": 4002},
        instance_type="ml.m5.large", hyperparameters={}, framework_hyperparameters={},
        input_data_config={}, job_name="job", user_entry_point=None, module_dir=None,
        num_cpus=1, num_gpus=0)
    assert env["SM_HOST_ADDRESSES"] == '{"algo-1":"127.0.0.1","algo-2":"127.0.0.1"}'
    assert env["SM_MASTER_ADDR"] == env["MASTER_ADDR"] == "127.0.0.1"
