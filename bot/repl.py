"""The terminal REPL: the same answers as Slack, for editors and for us.

Uses the standard library's readline for history and line editing (history is kept in
<KHABAR_HOME>/repl_history). One REPL session is one conversation until `:reset`.
"""
from __future__ import annotations

import sys
import uuid

from bot.engine import Engine, QuestionError
from bot.format import render, render_sources
from bot.signals import PromptInterrupts, sigint_held

HELP = """Ask a question in English, Hindi or romanised Hindi; follow-ups use the conversation so far.
  :sources   the passages the last answer was chosen from
  :reset     forget the conversation (start a new topic)
  :help      this text
  :quit      leave (Ctrl-D works too; Ctrl-C clears the line)"""

BANNER = "Khabar (खबर) — cited answers from the newsroom archive. :help for commands, :quit to leave."


def _setup_history():
    try:
        import readline
    except ImportError:  # pragma: no cover - not on this platform
        return None
    from index.config import khabar_home

    path = khabar_home() / "repl_history"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            readline.read_history_file(path)
    except OSError:
        return None
    readline.set_history_length(1000)
    return readline, path


def _save_history(state) -> None:
    if state:
        readline, path = state
        try:
            readline.write_history_file(path)
        except OSError:
            pass


def run_repl(engine: Engine, prompt: str = "khabar> ") -> int:
    # Every Ctrl-C at the prompt interrupts it, even one that lands while readline echoes a key,
    # and even where the parent ignored SIGINT (bot/signals.py says how).
    prompt_interrupts = PromptInterrupts().start()
    history = _setup_history() if sys.stdin.isatty() else None
    conversation = uuid.uuid4().hex
    last = None
    idx = engine.index
    print(BANNER)
    print(f"Index: {idx.path} — {len(idx.documents)} articles, {len(idx.passages)} passages.")
    if engine.as_of is not None:  # say it, or "yesterday" would silently mean another day
        print(f"As of {engine.as_of.isoformat(timespec='minutes')}: embargoes and 'yesterday', 'last week' "
              f"are read from this moment.")
    try:
        while True:
            try:
                line = prompt_interrupts.input(prompt)
            except KeyboardInterrupt:
                print("^C")
                continue
            except EOFError:
                print()
                break
            except UnicodeDecodeError:
                print("That line was not valid UTF-8; please type it again.")
                continue
            line = line.strip()
            if not line:
                continue
            if line.startswith(":"):
                cmd = line.split()[0].lower()
                if cmd in (":quit", ":q", ":exit"):
                    break
                if cmd == ":help":
                    print(HELP)
                elif cmd == ":reset":
                    engine.reset(conversation)
                    conversation = uuid.uuid4().hex
                    last = None
                    print("Conversation reset.")
                elif cmd == ":sources":
                    print(render_sources(last) if last else "Ask a question first.")
                else:
                    print(f"Unknown command {cmd}. {HELP}")
                continue
            try:
                with sigint_held():  # threads a question starts lazily must not take Ctrl-C
                    last = engine.ask(line, conversation_id=conversation)
            except QuestionError as exc:
                print(exc)
                continue
            except KeyboardInterrupt:
                print("^C (question cancelled)")
                continue
            if last.followup:
                print(f"(follow-up, read as: {last.retrieval_query})")
            print(render(last))
    finally:
        prompt_interrupts.stop()
        _save_history(history)
        engine.close()
    print("Bye. / अलविदा।")
    return 0
