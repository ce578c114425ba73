"""Khabar's user-facing side: answering, conversations, Slack, the REPL and the CLI."""
