"""`universal` on many photos (issue 26): `stylize_universal` takes a stream and holds one photo at a time."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from conftest import ROOT
from counted import Counted, counted_photos, only_new_garbage

SHIPPED = ROOT / "nst_tf" / "models" / "universal"


@pytest.mark.skipif(not (SHIPPED / "adain_relu4_1.weights.h5").is_file(), reason="no shipped decoders")
def test_a_stream_of_photos_never_holds_them_all(shipped_universal):
    from nst_tf.universal.settings import UniversalSettings
    from nst_tf.universal.stream import stylize_universal

    settings = UniversalSettings(method="adain", precision="float32", style_size=32)
    model = shipped_universal(settings.method)
    style = np.random.default_rng(1).random((1, 32, 32, 3), dtype=np.float32)
    Counted.reset()
    with only_new_garbage():
        seen = 0
        for step in stylize_universal(counted_photos(12, np.random.default_rng(0)), [style], settings, model=model):
            assert step.image.shape == (1, 24, 32, 3)
            seen += 1
            gc.collect()
    assert seen == 12
    # the photo being stylized and the next one the generator hands over: never the 12
    assert 1 <= Counted.peak <= 2
