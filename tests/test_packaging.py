"""The Lambda image, the conda environment and pyproject.toml name the same dependencies."""

import re
import shlex
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from workflow_runner import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
DOCKERFILE = (REPO / "docker/PipDockerfile").read_text()


def as_specs(requirements) -> dict[str, str]:
    """Normalised name -> specifier set (as text), from requirement strings."""
    parsed = [Requirement(text) for text in requirements]
    return {canonicalize_name(r.name): str(r.specifier) for r in parsed}


def dockerfile_requirements() -> list[str]:
    """Every requirement string that the Dockerfile's `pip install` commands name."""
    joined = DOCKERFILE.replace("\\\n", " ")
    words = []
    for command in re.findall(r"pip install ([^\n&]*)", joined):
        words += [w for w in shlex.split(command) if not w.startswith("-")]
    return words


def conda_requirements() -> dict[str, str]:
    """Normalised name -> specifier of the conda packages (channel prefixes dropped)."""
    specs = {}
    for entry in yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]:
        if isinstance(entry, str) and entry.split()[0] not in ("python", "pip"):
            name, _, spec = entry.partition(" ")
            name = name.split("::")[-1]
            # conda writes "3.8.*" where pip writes "==3.8.*".
            spec = ",".join(s if s[0] in "<>=!~" else f"=={s}" for s in spec.split(","))
            specs[canonicalize_name(name)] = str(Requirement(f"x{spec}").specifier)
    return specs


def test_lambda_image_installs_exactly_the_loaders_extra():
    image = as_specs(dockerfile_requirements())
    loaders = as_specs(PYPROJECT["optional-dependencies"]["loaders"])
    for name, spec in loaders.items():
        assert image.get(name) == spec, f"docker/PipDockerfile installs {name} {image.get(name)}"
    extra = set(image) - set(loaders) - {"awslambdaric", "boto3", "lithops"}
    assert not extra, f"docker/PipDockerfile installs packages the loaders extra lacks: {extra}"


def test_lambda_image_runs_the_same_lithops_and_ships_the_loaders():
    image = as_specs(dockerfile_requirements())
    assert image["lithops"] == as_specs(PYPROJECT["dependencies"])["lithops"]
    assert re.search(r"^COPY loaders\b", DOCKERFILE, re.MULTILINE)


def test_conda_environment_lists_the_same_set_as_pyproject():
    wanted = as_specs(
        PYPROJECT["dependencies"]
        + PYPROJECT["optional-dependencies"]["loaders"]
        + PYPROJECT["optional-dependencies"]["dev"]
    )
    conda = conda_requirements()
    assert conda == wanted, (
        f"only in environment.yml: {sorted(set(conda.items()) - set(wanted.items()))}; "
        f"only in pyproject.toml: {sorted(set(wanted.items()) - set(conda.items()))}"
    )


@pytest.mark.parametrize("region", ["eu-central-1", "us-west-2"])
def test_aws_lithops_configs_run_lambda_in_their_region_without_credentials(region):
    text = (REPO / f"config/lithops/aws-{region}.yaml").read_text()
    config = yaml.safe_load(text)
    assert config["lithops"] == {
        "backend": "aws_lambda",
        "storage": "aws_s3",
        "log_level": "WARNING",
    }
    assert config["aws"]["region"] == region
    assert config["aws_lambda"]["execution_role"] == "${TTC_LAMBDA_ROLE_ARN}"
    assert not re.search(r"access_key|secret|session_token", text, re.IGNORECASE)
