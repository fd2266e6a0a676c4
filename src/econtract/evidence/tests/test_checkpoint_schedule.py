"""When checkpoints are made: after completions (batched to one a second), by the runner, on demand."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from econtract.evidence import log
from econtract.evidence.models import Checkpoint
from econtract.evidence.services import checkpoint_after_completion
from econtract.evidence.tests.log_helpers import record_many


def test_completion_checkpoints_at_most_once_a_second_and_the_runner_catches_up(enterprise, settings):
    settings.ECONTRACT_CHECKPOINT_SECONDS = 3600
    record_many(enterprise, 2)
    checkpoint_after_completion()
    assert Checkpoint.objects.count() == 1
    record_many(enterprise, 2)
    checkpoint_after_completion()  # within the second: deferred to the runner
    assert Checkpoint.objects.count() == 1
    made = log.checkpoint_if_due()
    assert made is not None and made.tree_size == log.get_log().tree_size
    assert log.checkpoint_if_due() is None  # nothing waiting, period not over


def test_runner_checkpoints_when_the_period_is_over(enterprise, settings):
    settings.ECONTRACT_CHECKPOINT_SECONDS = 60
    record_many(enterprise, 1)
    log.make_checkpoint()
    assert log.checkpoint_if_due() is None
    later = timezone.now() + timedelta(seconds=61)
    from unittest import mock

    with mock.patch("econtract.evidence.log.timezone.now", return_value=later):
        assert log.checkpoint_if_due() is not None


def test_a_proof_for_an_uncovered_leaf_makes_a_checkpoint(enterprise):
    record_many(enterprise, 1)
    old = log.make_checkpoint()
    record_many(enterprise, 1)
    log.integrate_pending()
    covering = log.checkpoint_covering(log.get_log().tree_size)
    assert covering.pk != old.pk and covering.tree_size == log.get_log().tree_size
