"""TrainSettings' precision (issue 25): "auto" is decided once by the probe's rules (forced here through
NST_TF_PRECISION), the old --mixed-precision switch means bfloat16, and the two cannot contradict each other."""

from __future__ import annotations

import pytest

from nst_tf.errors import ConfigError
from nst_tf.feedforward.settings import TrainSettings


def test_auto_follows_the_decision_and_mixed_precision_follows_it(monkeypatch):
    monkeypatch.setenv("NST_TF_PRECISION", "bfloat16")
    settings, decision = TrainSettings("s.png", "d").validate().resolved()
    assert (settings.precision, settings.mixed_precision) == ("bfloat16", True)
    assert (decision.requested, decision.source) == ("auto", "environment")
    monkeypatch.setenv("NST_TF_PRECISION", "float32")
    settings, _ = TrainSettings("s.png", "d").resolved()
    assert (settings.precision, settings.mixed_precision) == ("float32", False)


def test_the_old_switch_is_bfloat16_and_an_explicit_choice_wins_over_auto(monkeypatch):
    monkeypatch.setenv("NST_TF_PRECISION", "float32")
    settings, decision = TrainSettings("s.png", "d", mixed_precision=True).resolved()
    assert (settings.precision, settings.mixed_precision, decision.source) == ("bfloat16", True, "explicit")
    settings, _ = TrainSettings("s.png", "d", precision="bfloat16").resolved()
    assert settings.mixed_precision is True


def test_contradictions_and_unknown_precisions_are_refused():
    with pytest.raises(ConfigError, match="cannot go with --precision float32"):
        TrainSettings("s.png", "d", mixed_precision=True, precision="float32").validate()
    with pytest.raises(ConfigError, match="unknown precision"):
        TrainSettings("s.png", "d", precision="float16").validate()
