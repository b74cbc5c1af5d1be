"""What every lane component's main does the same way: stop cleanly on SIGTERM (the nucleus stopping it)
and SIGINT (Ctrl-C)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any


def stop_on_signals(logger: str) -> threading.Event:
    """An event set by SIGTERM or SIGINT (handlers only from the main thread: elsewhere, e.g. a test calling
    main() in a thread, the caller sets it)."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        logging.getLogger(logger).info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    return stop
