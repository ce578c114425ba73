"""Offline rebuild: a folder of articles → an index folder, swapped in atomically.

    python scripts/build_index.py --corpus DIR [--corpus DIR ...] --out DIR

The bot can keep serving the old index meanwhile; it notices the new build and swaps to it.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["build", *sys.argv[1:]]))
