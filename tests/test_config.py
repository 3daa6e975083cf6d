"""The config schema, its error messages, and the contract keys."""

import copy
import re

import pytest
import yaml
from workflow_runner import REPO

from ttc_ard.keys import ARD_FILES, ard_keys
from ttc_ard.settings import ConfigError, load_schema, validate_config

SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")
SHIPPED = yaml.safe_load((REPO / "config/config.yaml").read_text())


def test_shipped_config_is_valid_and_equals_the_schema_defaults():
    config = copy.deepcopy(SHIPPED)
    validate_config(config, SCHEMA)
    defaults = {key: spec["default"] for key, spec in SCHEMA["properties"].items()}
    assert config == defaults


def test_every_config_key_is_explained_by_a_comment():
    text = (REPO / "config/config.yaml").read_text()
    for key in SCHEMA["properties"]:
        comment_block = re.search(rf"(?:^#.*\n)+(?:^\w+:.*\n)*^{key}:", text, re.MULTILINE)
        assert comment_block, f"config/config.yaml has no comment above '{key}'"


def test_absent_keys_take_their_defaults():
    config = {"retries": 5}
    validate_config(config, SCHEMA)
    assert config["retries"] == 5
    assert config["dest"] == "results/ard" and config["products"] == ["dem", "s1", "s2"]


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"retries": -1}, "'retries' = -1"),
        ({"dem_memory_mb": 64}, "'dem_memory_mb' = 64"),
        ({"source": "planetary"}, "'source' = 'planetary'"),
        ({"products": ["dem", "lidar"]}, "'products.1' = 'lidar'"),
        ({"retires": 2}, "'retires' (did you mean 'retries'?)"),
    ],
)
def test_invalid_values_are_named_with_the_fix(override, named):
    config = copy.deepcopy(SHIPPED) | override
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    message = str(err.value)
    assert named in message
    assert "--config" in message and "\n" not in message


def test_keys_follow_the_contract_table():
    tile = (2023, 1655, 1083)
    base = "2023/raw/1655/1083/raw/"
    assert ard_keys(*tile, ["dem"]) == [base + "misc/dem_1655X1083Y.hkl"]
    assert ard_keys(*tile, ["s1"]) == [
        base + "s1/1655X1083Y.hkl",
        base + "misc/s1_dates_1655X1083Y.hkl",
    ]
    assert sorted(ard_keys(*tile, ["s2"])) == sorted(
        base + key
        for key in [
            "s2_10/1655X1083Y.hkl",
            "s2_20/1655X1083Y.hkl",
            "misc/s2_dates_1655X1083Y.hkl",
            "clouds/clouds_1655X1083Y.hkl",
            "clouds/cloudmask_1655X1083Y.hkl",
            "clouds/clean_steps_1655X1083Y.hkl",
        ]
    )
    assert len(ard_keys(*tile, list(ARD_FILES))) == 9
