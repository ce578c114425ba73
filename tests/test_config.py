"""One source of configuration: defaults < TOML file < environment."""
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from index.config import DEFAULT_MODEL


def test_defaults():
    s = load_settings(env={})
    assert s.index.model == DEFAULT_MODEL and s.answer.top_k == 3 and s.index_dir is None


def test_toml_then_env(tmp_path):
    cfg = tmp_path / "khabar.toml"
    cfg.write_text('index_dir = "/srv/khabar/index"\n[answer]\ntop_k = 5\n[index]\nhnsw_threshold = 10\n'
                   '[slack]\nallowed_channels = ["C1", "C2"]\n', encoding="utf-8")
    s = load_settings(cfg, env={"KHABAR_ANSWER_TOP_K": "2", "SLACK_BOT_TOKEN": "xoxb-1",
                                "KHABAR_SLACK_ALLOWED_CHANNELS": "C9, C8", "KHABAR_MODEL": "/models/e5"})
    assert s.index_dir == Path("/srv/khabar/index") and s.index.hnsw_threshold == 10
    assert s.answer.top_k == 2 and s.slack.bot_token == "xoxb-1"
    assert s.slack.allowed_channels == ["C9", "C8"] and s.index.model == "/models/e5"
    s2 = load_settings(env={"KHABAR_CONFIG": str(cfg)})
    assert s2.answer.top_k == 5 and s2.slack.allowed_channels == ["C1", "C2"]


def test_errors_name_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="KHABAR_ANSWER_TOP_K"):
        load_settings(env={"KHABAR_ANSWER_TOP_K": "many"})
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings(env={"KHABAR_ANSWER_COLOUR": "red"})
    bad = tmp_path / "bad.toml"
    bad.write_text("[answer\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, env={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", env={})
