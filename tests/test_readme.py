"""The README says what the code does: every file it names exists, every flag it gives a command or a
script is one that command accepts, every KHABAR_* variable it names is a setting, and its first two
commands are the ones setup and CI run."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _repo_paths() -> set[str]:
    return set(re.findall(r"`((?:bot|index|scripts|seeds|tests)/[A-Za-z0-9_./-]*)`", README))


def test_every_file_the_readme_names_exists():
    missing = sorted(p for p in _repo_paths() if not (ROOT / p).exists())
    assert not missing, f"README names files that do not exist: {missing}"


def _help(args: list[str]) -> str:
    done = subprocess.run([sys.executable, *args, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (args, done.stderr[-1500:])
    return done.stdout


def _flags_by_command() -> dict[tuple[str, ...], set[str]]:
    """`khabar SUB …` and `python scripts/X.py …` as the README writes them → the flags it gives each
    (what follows the command in the same code span or command line, up to a comment)."""
    found: dict[tuple[str, ...], set[str]] = {}
    spans = re.findall(r"`([^`\n]+)`", README) + re.findall(r"^\s*(?:\$ )?((?:khabar|python|\.venv/bin/khabar) .+)$",
                                                         README, re.M)
    for text in spans:
        text = text.split(" #")[0]
        for part in re.split(r"(?=\bkhabar |\bpython scripts/)", text):
            if m := re.match(r"khabar ((?:feedback )?[a-z]+)\b(.*)", part):
                command = ("-m", "bot", *m.group(1).split())
            elif m := re.match(r"python (scripts/[a-z_]+\.py)\b(.*)", part):
                command = (m.group(1),)
            else:
                continue
            found.setdefault(command, set()).update(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", m.group(2)))
    return found


COMMANDS = sorted(_flags_by_command().items())


@pytest.mark.slow
@pytest.mark.parametrize("command, flags", COMMANDS, ids=[" ".join(c[2:] if c[0] == "-m" else c) for c, _ in COMMANDS])
def test_every_flag_the_readme_gives_a_command_is_accepted(command, flags):
    if not (command[0] == "-m" or (ROOT / command[0]).exists()):
        pytest.fail(f"README runs {command[0]}, which does not exist")
    text = _help(list(command))
    unknown = sorted(f for f in flags if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", text))
    assert not unknown, f"{' '.join(command)} does not accept {unknown} (README gives them)"


def test_the_readme_shows_the_commands_it_documents():
    subcommands = {c[2] for c, _ in COMMANDS if c[0] == "-m"}
    assert {"ask", "repl", "slack", "stats", "doctor", "build", "watch", "feedback"} <= subcommands, subcommands


def test_every_khabar_variable_the_readme_names_is_a_setting():
    from bot.config import ConfigError, load_settings

    named = set(re.findall(r"\b(KHABAR_[A-Z0-9_]*[A-Z0-9])\b", README))  # not a prefix such as KHABAR_SLACK_*
    names = sorted(named - {"KHABAR_HOME", "KHABAR_CONFIG", "KHABAR_VENV", "KHABAR_EXTRAS"})
    assert names
    refused = []
    for name in names:
        try:
            load_settings(env={name: _a_value_for(name)})
        except ConfigError as exc:  # an unknown KHABAR_* is refused by name
            if "unknown setting" in str(exc):
                refused.append((name, str(exc)[:120]))
    assert not refused, refused


def _a_value_for(name: str) -> str:
    """A value of the setting's type: the README's own example where it gives one."""
    m = re.search(rf"{name}=([^\s`]+)", README)
    return m.group(1).strip("\"'") if m else "1"


def test_the_first_two_commands_are_setup_and_the_suite():
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", README, re.S)
    commands = [line.split(" #")[0].strip() for b in blocks for line in b.splitlines() if line.strip() and not line.startswith("#")]
    assert commands[0].startswith("bash scripts/setup.sh"), commands[:2]
    assert commands[1] == "bash scripts/test.sh", commands[:2]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
