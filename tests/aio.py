"""Run a coroutine from a test, whatever the calling thread is doing.

``asyncio.run`` refuses to start while an event loop runs in the calling thread, and the
real-browser tests' session-wide Playwright browser keeps one running in the main thread
for the rest of the session: a coroutine is therefore run in a thread of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a fresh event loop in a worker thread and return its result."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
