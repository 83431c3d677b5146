"""TrainingConfig: validation messages, enums, dict round trip."""

from __future__ import annotations

import json
import re

import pytest

from ner_bert import ConfigError
from ner_bert.config import MixedPrecision, TrainingConfig


def test_defaults_are_valid_and_round_trip_through_json() -> None:
    config = TrainingConfig()
    data = json.loads(json.dumps(config.to_dict()))
    assert TrainingConfig.from_dict(data) == config
    assert data["mixed_precision"] == "auto"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("learning_rate", -1e-5, "learning_rate must be a number > 0"),
        ("learning_rate", 0, "learning_rate must be a number > 0"),
        ("learning_rate", float("nan"), "learning_rate"),
        ("epochs", 0, "epochs must be an integer >= 1, got 0"),
        ("epochs", 1.5, "epochs must be an integer >= 1, got 1.5"),
        ("epochs", True, "epochs must be an integer"),
        ("batch_size", 0, "batch_size must be an integer >= 1, got 0"),
        ("gradient_accumulation_steps", 0, "gradient_accumulation_steps"),
        ("weight_decay", -0.1, "weight_decay must be a number >= 0"),
        ("warmup_ratio", 1.0, "warmup_ratio must be in [0, 1)"),
        ("max_grad_norm", 0, "max_grad_norm must be a number > 0 or None"),
        ("max_length", 2, "max_length must be an integer >= 3"),
        ("stride", 0, "stride must be an integer >= 1"),
        ("mixed_precision", "fp8", "mixed_precision must be one of 'auto', 'no', 'bf16', 'fp16'"),
        ("device", "tpu", "device must be 'auto', 'cpu'"),
        ("seed", -1, "seed must be an integer >= 0"),
        ("early_stopping_patience", 0, "early_stopping_patience must be an integer >= 1"),
        ("keep_checkpoints", 0, "keep_checkpoints"),
        ("progress_bar", "yes", "progress_bar must be true or false"),
        ("label_all_subwords", 1, "label_all_subwords must be true or false"),
        ("num_threads", 0, "num_threads"),
        ("context_size", -2, "context_size must be an integer >= 0"),
        ("context_dropout", 1.5, "context_dropout must be in"),
        ("eval_delay", 3, "eval_delay must be less than epochs (3)"),
        ("eval_delay", -1, "eval_delay must be an integer >= 0"),
        ("checkpoint_dir", "", "checkpoint_dir must be a directory path"),
    ],
)
def test_invalid_values_name_field_and_value(field: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        TrainingConfig(**{field: value})  # type: ignore[arg-type]


def test_stride_must_fit_in_the_window() -> None:
    with pytest.raises(ConfigError, match=r"stride must be <= max_length - 2 = 14"):
        TrainingConfig(max_length=16, stride=15)
    assert TrainingConfig(max_length=16, stride=14).stride == 14


def test_enums_parsed_once_case_insensitive() -> None:
    config = TrainingConfig(mixed_precision="BF16", device="CPU")
    assert config.mixed_precision is MixedPrecision.BF16
    assert config.device == "cpu"


def test_from_dict_rejects_unknown_keys_with_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        TrainingConfig.from_dict({"learning_rte": 1e-4})
    message = str(info.value)
    assert "unknown option 'learning_rte'" in message
    assert "Did you mean 'learning_rate'?" in message
    assert "Valid options:" in message and "batch_size" in message


def test_from_dict_rejects_non_dict() -> None:
    with pytest.raises(ConfigError, match="needs a dict"):
        TrainingConfig.from_dict([("epochs", 1)])  # type: ignore[arg-type]


def test_config_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        TrainingConfig(batch_size=0)
