"""The install: the lock, the exactly pinned torch/torchaudio pair, and `sertext doctor`."""

import importlib
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from sertext import doctor
from sertext.cli import main

ROOT = Path(__file__).resolve().parent.parent


def project_requirements() -> list[Requirement]:
    """sertext's requirements, with the dev extra's, as installed from pyproject.toml."""
    return [Requirement(r.split(";")[0]) for r in importlib.metadata.requires("sertext")]


def test_the_compiled_pair_is_pinned_exactly_and_as_locked():
    pins = {r.name: str(r.specifier) for r in project_requirements() if r.name in ("torch", "torchaudio")}
    locked = doctor.locked_versions(ROOT / "requirements.lock")
    assert pins == {"torch": f"=={locked['torch']}", "torchaudio": f"=={locked['torchaudio']}"}
    assert "*" not in "".join(pins.values())


def test_the_lock_holds_every_requirement_at_an_allowed_version():
    locked = doctor.locked_versions(ROOT / "requirements.lock")
    for requirement in project_requirements():
        name = requirement.name.lower().replace("_", "-").replace(".", "-")
        assert name in locked, f"{requirement.name} is missing from requirements.lock: run tools/lock.sh"
        assert requirement.specifier.contains(locked[name], prereleases=True), (requirement, locked[name])


def test_this_environment_is_the_locked_one():
    """The tests run on the versions of requirements.lock (README: pip install -c requirements.lock)."""
    assert doctor.lock_differences(ROOT / "requirements.lock") == []


def test_a_broken_import_is_one_line_naming_the_package_and_the_pair(monkeypatch, capsys):
    real_import = importlib.import_module

    def broken_torchaudio(name, *args):
        if name == "torchaudio":
            raise OSError("libtorchaudio.so: undefined symbol: torch_exception_get_what_without_backtrace")
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", broken_torchaudio)
    assert main(["doctor"]) == 1
    lines = capsys.readouterr().out.splitlines()
    failed = [line for line in lines if "FAILED" in line]
    assert len(failed) == 1 and lines[-1] == failed[0]  # it stops at the broken package
    assert f"torchaudio {doctor.version('torchaudio')} does not import (OSError: libtorchaudio.so: undefined symbol" \
        in failed[0]
    pins = doctor.pinned_pair()
    assert f"sertext is tested with torch {pins['torch']} + torchaudio {pins['torchaudio']}" in failed[0]
    assert "pip install -c requirements.lock -e ." in failed[0]


def test_lock_differences_name_each_package(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text(f"# a comment\nnumpy=={doctor.version('numpy')}\nPyYAML==0.0.1\nnot-installed-here==1.0\n")
    assert doctor.lock_differences(lock) == [f"pyyaml: installed {doctor.version('PyYAML')}, locked 0.0.1"]


@pytest.mark.slow
def test_doctor_passes_on_this_install():
    run = subprocess.run([sys.executable, "-m", "sertext.cli", "doctor"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    for name in ("torch", "torchaudio", "transformers", "ray", "mlflow", "optuna", "resemblyzer", "pyAudioAnalysis",
                 "speech path", "text path"):
        assert re.search(rf"^ +{name} +ok ", run.stdout, re.MULTILINE), (name, run.stdout)
    assert re.search(r"^ +lock +ok ", run.stdout, re.MULTILINE), run.stdout


def test_ci_installs_and_tests_exactly_as_the_readme_says():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    install, test = 'pip install -c requirements.lock -e ".[dev]"', "pytest"
    assert f"{install} && {test}" in readme
    assert "pip install -c requirements.lock -e . && python sweeps/loso.py --demo" in readme
    assert install in ci.splitlines() and test in ci.splitlines() and "sertext doctor" in ci.splitlines()
    assert ci.index("sertext doctor") < ci.index("\npytest")  # the smoke step first
