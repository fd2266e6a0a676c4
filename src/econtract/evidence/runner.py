"""The embedded server's checkpoint runner: appends queued events and checkpoints when due."""

from __future__ import annotations

import logging
import threading

from django.db import connection

from econtract.evidence import log, witnessing

logger = logging.getLogger(__name__)


class CheckpointRunner(threading.Thread):
    def __init__(self, interval: float) -> None:
        super().__init__(name="econtract-checkpoints", daemon=True)
        self.interval = interval
        self._stopping = threading.Event()
        self._pushed_id: int | None = None

    def run(self) -> None:
        while True:
            try:
                log.integrate_pending()
                log.checkpoint_if_due()
                latest = log.latest_checkpoint()
                if latest is not None and latest.id != self._pushed_id:
                    witnessing.push_checkpoint(latest)  # witnesses need only the latest; never in a request
                    self._pushed_id = latest.id
            except Exception:  # a database hiccup must not end the runner for the server's lifetime
                logger.exception("checkpoint runner: pass failed")
            connection.close()
            if self._stopping.wait(self.interval):
                return

    def stop(self) -> None:
        self._stopping.set()
