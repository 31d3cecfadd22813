"""Output arrays reused between scenario runs only when nothing else can see them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from drgdip.core.buffers import KEPT_PER_NAME, reusable_array, warm_arrays
from drgdip.core.frames import frame_of


def test_an_array_is_reused_only_when_nothing_holds_it_or_a_view_of_it():
    buffers = {}
    first = reusable_array(buffers, "points", 10)   # then held by a frame
    frame = frame_of({"points": first})
    second = reusable_array(buffers, "points", 10)   # then held through a view
    assert second is not first
    view = second[2:5]
    third = reusable_array(buffers, "points", 10)
    assert third is not first and third is not second
    third_id = id(third)
    del first, second, third
    fourth = reusable_array(buffers, "points", 10)
    assert id(fourth) == third_id   # the only one nothing sees
    del fourth, frame
    assert reusable_array(buffers, "points", 10) is buffers["points"][0]   # the frame let go of the first
    assert view.base is buffers["points"][1]
    assert len(buffers["points"]) == KEPT_PER_NAME
    assert all(reusable_array(buffers, "points", 10) is not kept for kept in buffers["points"][1:2])


def test_a_reused_array_never_changes_what_a_frame_shows():
    buffers = {}
    points = reusable_array(buffers, "points", 4)
    points[:] = [1.0, 2.0, 3.0, 4.0]
    frame = frame_of({"points": points})
    del points
    for _ in range(5):
        other = reusable_array(buffers, "points", 4)
        other[:] = -1.0
    pd.testing.assert_series_equal(frame["points"], pd.Series([1.0, 2.0, 3.0, 4.0], name="points"))


def test_other_sizes_and_types_and_no_buffers_get_new_arrays():
    buffers = {}
    reusable_array(buffers, "x", 5)
    assert reusable_array(buffers, "x", 6) is not buffers["x"][0]
    assert reusable_array(buffers, "x", 5, np.bool_).dtype == np.bool_
    assert reusable_array(buffers, "x", 5) is buffers["x"][0]
    assert reusable_array(None, "x", 3).shape == (3,) and buffers.keys() == {"x"}


def test_warm_arrays_keeps_two_distinct_touched_arrays_per_output():
    buffers = {}
    warm_arrays(buffers, ("a", "b"), 8)
    for name in ("a", "b"):
        first, second = buffers[name]
        assert first is not second and not first.any() and not second.any()
    got = reusable_array(buffers, "a", 8)
    assert any(got is kept for kept in buffers["a"])
