"""The asyncio worker runtime: notifier, producers, job executor, completer, scheduler."""
