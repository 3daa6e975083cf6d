"""The Lambda image, the conda environment and the Lithops configs agree with pyproject.toml.

Fast and offline: these tests only read files.
"""

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]
DOCKERFILE = (REPO / "docker/PipDockerfile").read_text()
ENVIRONMENT = yaml.safe_load((REPO / "environment.yml").read_text())

# What the Lambda image installs besides the loaders extra: the runtime interface client,
# Lithops' worker side and the base dependencies the loaders import (lithops, boto3 and numpy
# come with pyproject's own specifiers).
IMAGE_RUNTIME_PACKAGES = {"awslambdaric", "boto3", "lithops", "numpy"}
# conda package name -> PyPI name, where they differ.
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib"}
# Keys under which Lithops would read credentials (its `aws` section), and boto3's spellings.
CREDENTIAL_KEYS = {
    "access_key_id",
    "secret_access_key",
    "session_token",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
}
ENV_VARS = {
    "eu-central-1": "TTC_LITHOPS_BUCKET_EU_CENTRAL_1",
    "us-west-2": "TTC_LITHOPS_BUCKET_US_WEST_2",
}


def as_specs(requirements) -> dict[str, SpecifierSet]:
    """Normalised name -> specifier set, from PEP 508 requirement strings."""
    specs = {}
    for text in requirements:
        requirement = Requirement(text)
        specs[canonicalize_name(requirement.name)] = requirement.specifier
    return specs


def differences(found: dict, wanted: dict, found_in: str, wanted_in: str) -> list[str]:
    """One readable line per package whose presence or specifier differs."""
    lines = []
    for name in sorted(set(found) | set(wanted)):
        if name not in found:
            lines.append(
                f"{name}: in {wanted_in} ({wanted[name] or 'any version'}), not in {found_in}"
            )
        elif name not in wanted:
            lines.append(
                f"{name}: in {found_in} ({found[name] or 'any version'}), not in {wanted_in}"
            )
        elif found[name] != wanted[name]:
            lines.append(
                f"{name}: {found_in} has '{found[name]}', {wanted_in} has '{wanted[name]}'"
            )
    return lines


def dockerfile_requirements() -> list[str]:
    """Every requirement string that the Dockerfile's `pip install` commands name."""
    joined = DOCKERFILE.replace("\\\n", " ")
    words = []
    for command in re.findall(r"pip install ([^\n&;]*)", joined):
        words += [w for w in shlex.split(command) if not w.startswith("-")]
    return words


def conda_to_pep440(spec: str) -> str:
    """A conda version spec (`>=1.2,<2`, `3.8.*`, `=3.8`) as a PEP 440 specifier."""
    parts = []
    for part in filter(None, spec.replace(" ", "").split(",")):
        if part[0] in "<>!~" or part.startswith("=="):
            parts.append(part)
        elif part.startswith("="):  # conda's fuzzy `=3.8` means 3.8.*
            parts.append(f"=={part[1:].removesuffix('.*')}.*")
        else:  # a bare version or glob: `3.8.*`, `1.2`
            parts.append(f"=={part}")
    return ",".join(parts)


def environment_requirements() -> tuple[dict[str, SpecifierSet], list[str]]:
    """PyPI name -> specifier of everything environment.yml installs (conda packages, channel
    prefixes dropped and names mapped, plus pip's requirement lines), and pip's other lines."""
    specs, pip_other = {}, []
    for entry in ENVIRONMENT["dependencies"]:
        if isinstance(entry, dict):
            for line in entry.get("pip", []):
                if line.startswith("-"):
                    pip_other.append(line)
                else:
                    specs.update(as_specs([line]))
            continue
        name, _, spec = entry.strip().partition(" ")
        name = name.split("::")[-1]
        if name in ("python", "pip"):
            continue
        name = CONDA_TO_PYPI.get(name, name)
        specs[canonicalize_name(name)] = SpecifierSet(conda_to_pep440(spec))
    return specs, pip_other


def walk_keys(node):
    """Every mapping key in a parsed YAML document, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from walk_keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_keys(item)


# --- (a) the Lambda image ---------------------------------------------------------------


def test_lambda_image_installs_exactly_the_loaders_extra():
    image = as_specs(dockerfile_requirements())
    loaders = as_specs(EXTRAS["loaders"])
    found = {name: spec for name, spec in image.items() if name not in IMAGE_RUNTIME_PACKAGES}
    problems = differences(found, loaders, "docker/PipDockerfile", "the loaders extra")
    assert not problems, "docker/PipDockerfile and pyproject.toml differ:\n" + "\n".join(problems)


def test_lambda_image_runs_the_clients_lithops_boto3_and_numpy():
    image = as_specs(dockerfile_requirements())
    client = as_specs(PROJECT["dependencies"])
    for name in ("lithops", "boto3", "numpy"):
        assert name in image, f"docker/PipDockerfile does not install {name}"
        assert image[name] == client[name], (
            f"{name}: docker/PipDockerfile has '{image[name]}', "
            f"pyproject.toml dependencies have '{client[name]}'"
        )
    assert "awslambdaric" in image, "docker/PipDockerfile lacks the Lambda runtime interface client"


def test_lambda_image_ships_the_loaders_and_the_lithops_handler():
    assert re.search(r"^COPY src/loaders/? \S*/loaders/?$", DOCKERFILE, re.MULTILINE), (
        "docker/PipDockerfile does not copy src/loaders/ into the function directory"
    )
    assert re.search(r"^COPY lithops_lambda\.zip ", DOCKERFILE, re.MULTILINE), (
        "docker/PipDockerfile does not add the handler archive that lithops runtime build writes"
    )
    assert re.search(r'^CMD \[ *"handler\.entry_point\.lambda_handler" *\]', DOCKERFILE, re.M)


def test_lambda_image_python_is_the_conda_environments():
    # Lithops refuses a runtime whose Python minor version differs from the client's.
    image = re.search(r"^FROM python:(\d+\.\d+)", DOCKERFILE, re.MULTILINE)
    assert image, "docker/PipDockerfile does not start from a python:X.Y image"
    conda = next(e for e in ENVIRONMENT["dependencies"] if str(e).split()[0] == "python")
    assert SpecifierSet(conda_to_pep440(conda.partition(" ")[2])).contains(f"{image[1]}.0"), (
        f"docker/PipDockerfile runs Python {image[1]}, environment.yml asks for '{conda}'"
    )


# --- (b) the conda environment -----------------------------------------------------------


def test_conda_environment_lists_the_same_set_as_pyproject():
    wanted = as_specs(PROJECT["dependencies"] + EXTRAS["loaders"] + EXTRAS["dev"])
    found, _ = environment_requirements()
    problems = differences(found, wanted, "environment.yml", "pyproject.toml")
    assert not problems, "environment.yml and pyproject.toml differ:\n" + "\n".join(problems)


def test_conda_environment_installs_the_project_itself():
    _, pip_other = environment_requirements()
    assert "-e ." in pip_other, "environment.yml's pip section does not install the project"


def test_conda_spec_translation():
    assert SpecifierSet(conda_to_pep440("3.8.*")) == SpecifierSet("==3.8.*")
    assert SpecifierSet(conda_to_pep440("=3.8")) == SpecifierSet("==3.8.*")
    assert SpecifierSet(conda_to_pep440(">=1.26,<3")) == SpecifierSet(">=1.26,<3")
    assert SpecifierSet(conda_to_pep440("")) == SpecifierSet("")


# --- (c) the Lithops configs ---------------------------------------------------------------


@pytest.mark.parametrize("region", sorted(ENV_VARS))
def test_aws_lithops_configs_run_lambda_in_their_region_without_credentials(region):
    path = f"config/lithops/aws-{region}.yaml"
    text = (REPO / path).read_text()
    config = yaml.safe_load(text)
    assert config["lithops"]["backend"] == "aws_lambda", f"{path}: backend is not aws_lambda"
    assert config["lithops"]["storage"] == "aws_s3", f"{path}: storage is not aws_s3"
    assert config["aws"]["region"] == region, f"{path}: aws.region is {config['aws']['region']}"
    for section in ("aws_lambda", "aws_s3"):
        own = config[section].get("region", region)
        assert own == region, f"{path}: {section}.region {own} overrides {region}"

    lambda_config = config["aws_lambda"]
    assert lambda_config["execution_role"] == "${TTC_LAMBDA_ROLE_ARN}", path
    assert 0 < lambda_config["runtime_timeout"] <= 900, f"{path}: Lambda allows at most 900 s"
    assert config["aws_s3"]["storage_bucket"] == f"${{{ENV_VARS[region]}}}", path

    credentials = CREDENTIAL_KEYS & {str(key).lower() for key in walk_keys(config)}
    assert not credentials, f"{path} holds credential keys {sorted(credentials)}"
    assert not re.search(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", text), f"{path} holds an access key id"
    variables = set(re.findall(r"\$\{(\w+)\}", text))
    assert variables == {"TTC_LAMBDA_ROLE_ARN", ENV_VARS[region]}, (
        f"{path} uses the environment variables {sorted(variables)}"
    )


def test_both_regions_run_the_same_runtime_image():
    runtimes = {
        region: yaml.safe_load((REPO / f"config/lithops/aws-{region}.yaml").read_text())[
            "aws_lambda"
        ]["runtime"]
        for region in ENV_VARS
    }
    assert len(set(runtimes.values())) == 1, f"the AWS configs name different runtimes: {runtimes}"


def test_localhost_config_leaves_the_interpreter_to_the_executor():
    config = yaml.safe_load((REPO / "config/lithops/localhost.yaml").read_text())
    assert config["lithops"]["backend"] == "localhost"
    assert config["lithops"]["storage"] == "localhost"
    assert "runtime" not in (config.get("localhost") or {}), (
        "config/lithops/localhost.yaml names an interpreter; the executor sets sys.executable"
    )
