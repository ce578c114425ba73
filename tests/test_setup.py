"""scripts/setup.sh installs torch's CPU build from PyTorch's CPU index, else from the configured one.

`scripts/install_torch.sh` is run for real: once with a recording `python` standing in for pip
(to see exactly which installs it asks for, reachable index or not), and once with the real pip
against indexes that cannot be reached (nothing is installed, nothing is downloaded), to show the
first try gives up quickly and the fallback is taken and said.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "scripts" / "setup.sh"
INSTALL_TORCH = ROOT / "scripts" / "install_torch.sh"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# A `python` that records each call; `-m pip install --index-url ...` fails when CPU_INDEX_DOWN is set.
RECORDING_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$CALLS"
if [ "$1" = "-c" ]; then echo False; exit 0; fi
if [ -n "${CPU_INDEX_DOWN:-}" ] && [[ " $* " == *" --index-url "* ]]; then
  echo "ERROR: Could not find a version that satisfies the requirement torch==2.13.0" >&2; exit 1
fi
exit 0
"""


def _run(python: str, env: dict, version: str = "2.13.0", timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALL_TORCH), python, version], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def _recording(tmp_path: Path, **extra) -> tuple[str, Path, dict]:
    python = tmp_path / "python"
    python.write_text(RECORDING_PYTHON)
    python.chmod(0o755)
    calls = tmp_path / "calls.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCH_")}
    env.update(CALLS=str(calls), **extra)
    return str(python), calls, env


def test_setup_installs_pinned_torch_through_the_cpu_installer_before_khabar():
    text = SETUP.read_text()
    assert re.search(r"^TORCH_VERSION=2\.13\.0$", text, re.M)
    torch_step = text.index('bash scripts/install_torch.sh "$VPY" "$TORCH_VERSION"')
    assert torch_step < text.index('pip install --quiet -e ".[$EXTRAS]"'), "torch must come before khabar"
    assert 'pip install --quiet "torch==' not in text, "a plain pip install of torch pulls CUDA on ordinary Linux"


def test_cpu_index_first_and_nothing_else_when_it_answers(tmp_path):
    python, calls, env = _recording(tmp_path)
    proc = _run(python, env)
    assert proc.returncode == 0, proc.stderr
    [call] = calls.read_text().splitlines()
    assert call.startswith("-m pip install")
    assert f"--index-url {CPU_INDEX}" in call and "--retries 0" in call and "--timeout 10" in call
    assert call.endswith("torch==2.13.0")
    assert "fell back" not in proc.stdout + proc.stderr


def test_unreachable_cpu_index_falls_back_to_the_configured_index_and_says_so(tmp_path):
    python, calls, env = _recording(tmp_path, CPU_INDEX_DOWN="1")
    proc = _run(python, env)
    assert proc.returncode == 0, proc.stderr
    first, second, check = calls.read_text().splitlines()
    assert f"--index-url {CPU_INDEX}" in first
    assert second == "-m pip install --quiet torch==2.13.0"  # the index pip is configured with
    assert check.startswith("-c ")  # and it looks at which build that gave
    assert "fell back" in proc.stdout and CPU_INDEX in proc.stdout and "Could not find" in proc.stdout


def test_usage_error_names_the_arguments():
    proc = subprocess.run(["bash", str(INSTALL_TORCH)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "usage: bash scripts/install_torch.sh PYTHON VERSION" in proc.stderr


def test_real_pip_gives_up_on_an_unreachable_index_quickly(tmp_path):
    """The real pip, every index unreachable (nothing gets installed): fast fallback, then a clear error."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "TORCH_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_NO_INPUT="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", TORCH_CPU_INDEX="http://127.0.0.1:9/whl/cpu",
               TORCH_INDEX_TIMEOUT="3")
    start = time.monotonic()
    # A version nobody has, so an installed torch cannot satisfy it and pip must ask the index.
    proc = _run(sys.executable, env, version="0.0.0")
    seconds = time.monotonic() - start
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "fell back" in proc.stdout and "http://127.0.0.1:9/whl/cpu" in proc.stdout
    assert "could not be installed" in proc.stderr and "scripts/setup.sh" in proc.stderr
    assert seconds < 60, f"the fallback took {seconds:.0f} s"
