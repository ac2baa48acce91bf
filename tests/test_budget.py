"""The budget study's crossover estimate: interpolated where measured, extrapolated along the last segment in
log-seconds, and no number where that segment is flat, falling or would reach the target only far away."""
import math

import pandas as pd
import pytest

from tools.budget import MAX_EXTRAPOLATION, crossover


def curve(*points):
    return pd.DataFrame(points, columns=["cpu_seconds", "psnr"])


def test_interpolated_between_measured_budgets():
    x, extrapolated = crossover(curve((10, 30.0), (100, 32.0)), 31.0)
    assert x == pytest.approx(math.sqrt(10 * 100)) and not extrapolated


def test_extrapolated_along_the_last_segment():
    x, extrapolated = crossover(curve((10, 30.0), (100, 32.0)), 34.0)
    assert x == pytest.approx(1000) and extrapolated


def test_a_flat_or_falling_curve_gives_no_number():
    assert crossover(curve((10, 30.0), (100, 29.0)), 34.0) == (None, False)
    x, extrapolated = crossover(curve((10, 30.0), (100, 30.01)), 34.0)  # 1e400 s along a nearly flat segment
    assert x is None and extrapolated
    x, _ = crossover(curve((10, 30.0), (100, 32.0)), 32.0 + 2.0 * math.log10(MAX_EXTRAPOLATION) - 0.01)
    assert x is not None  # just inside the limit


def test_the_report_words_a_target_met_at_the_smallest_budget_as_a_bound():
    from tools.budget import when_reached

    points = curve((10, 30.0), (100, 32.0))
    assert when_reached(points, 29.0) == ("<= 10 (the smallest budget measured)", "measured")
    assert when_reached(points, 31.0) == ("32", "measured")
    assert when_reached(points, 34.0) == ("1,000", "extrapolated")
    assert when_reached(curve((10, 30.0), (100, 29.0)), 34.0) == ("not reached: the curve flattens", "")
