from __future__ import annotations

import pytest

from components.carbon_component import CarbonTracker, EnergyProfile

SMALL = EnergyProfile("small-model", prompt_j_per_1k=360.0, completion_j_per_1k=720.0)
LARGE = EnergyProfile("large-model", prompt_j_per_1k=3600.0, completion_j_per_1k=7200.0)


@pytest.fixture
def tracker() -> CarbonTracker:
    return CarbonTracker([SMALL, LARGE], grid_intensity_g_per_kwh=500.0)


def test_energy_profile_scales_with_tokens() -> None:
    assert SMALL.energy_joules(1000, 500) == pytest.approx(720.0)


def test_record_converts_energy_to_carbon(tracker: CarbonTracker) -> None:
    record = tracker.record("s1", "large-model", 1000, 1000)
    # 10_800 J = 0.003 kWh; at 500 g/kWh that is 1.5 g
    assert record.energy_j == pytest.approx(10_800.0)
    assert record.carbon_g == pytest.approx(1.5)


def test_estimate_does_not_record(tracker: CarbonTracker) -> None:
    assert tracker.estimate("small-model", 1000, 1000) == pytest.approx(0.15)
    assert tracker.sessions() == []


def test_unknown_model_without_default(tracker: CarbonTracker) -> None:
    with pytest.raises(KeyError, match="no energy profile"):
        tracker.record("s1", "mystery", 10, 10)


def test_report_aggregates_one_session(tracker: CarbonTracker) -> None:
    tracker.record("s1", "small-model", 1000, 1000)
    tracker.record("s1", "large-model", 1000, 1000)
    tracker.record("s2", "large-model", 1000, 1000)
    report = tracker.report("s1")
    assert report.calls == 2
    assert report.carbon_g == pytest.approx(1.65)
    assert report.by_model == pytest.approx({"small-model": 0.15, "large-model": 1.5})
    assert report.budget_used is None
    assert report.summary() == "s1: 2 call(s), 1.650 gCO2e"
    assert tracker.sessions() == ["s1", "s2"]
