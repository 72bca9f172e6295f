"""Cron-style hafs pipelines: job specs, triggers, run history, the engine and OS entries."""
