"""The embedded server's contracts runner: moves statuses on with the calendar and sends reminders."""

from __future__ import annotations

import logging
import threading

from django.db import connection

from econtract.contracts import lifecycle

logger = logging.getLogger(__name__)


class ContractsTickRunner(threading.Thread):
    """``lifecycle.tick`` every ``interval`` seconds, the first pass ``first_delay`` seconds after start
    (not at once: the server is still starting, and a restart loop must not hammer the database)."""

    def __init__(self, interval: float, first_delay: float = 30) -> None:
        super().__init__(name="econtract-contracts", daemon=True)
        self.interval = interval
        self.first_delay = first_delay
        self._stopping = threading.Event()

    def run(self) -> None:
        if self._stopping.wait(self.first_delay):
            return
        while True:
            try:
                lifecycle.tick()
            except Exception:  # a database hiccup must not end the runner for the server's lifetime
                logger.exception("contracts runner: tick failed")
            connection.close()
            if self._stopping.wait(self.interval):
                return

    def stop(self) -> None:
        self._stopping.set()
