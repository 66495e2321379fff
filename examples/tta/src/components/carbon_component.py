"""Energy and carbon accounting for model calls.

Every LLM call made on behalf of a player session is recorded with its token counts. The
tracker converts tokens to energy (using a per-model energy profile) and energy to grams of
CO2e (using the grid carbon intensity), enforces per-session budgets and produces reports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

DEFAULT_GRID_INTENSITY_G_PER_KWH = 400.0
JOULES_PER_KWH = 3_600_000.0


class CarbonBudgetExceededError(Exception):
    """Raised when recording a call would exceed a session's carbon budget."""

    def __init__(self, session_id: str, budget_g: float, attempted_g: float) -> None:
        super().__init__(
            f"session {session_id} would use {attempted_g:.3f} gCO2e of a {budget_g:.3f} g budget"
        )
        self.session_id = session_id
        self.budget_g = budget_g
        self.attempted_g = attempted_g


@dataclass(frozen=True)
class EnergyProfile:
    """Energy cost of a model in joules per thousand tokens."""

    model: str
    prompt_j_per_1k: float
    completion_j_per_1k: float

    def energy_joules(self, prompt_tokens: int, completion_tokens: int) -> float:
        if prompt_tokens < 0 or completion_tokens < 0:
            raise ValueError("token counts cannot be negative")
        return (
            prompt_tokens * self.prompt_j_per_1k + completion_tokens * self.completion_j_per_1k
        ) / 1000.0


@dataclass(frozen=True)
class CallRecord:
    session_id: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    energy_j: float
    carbon_g: float


@dataclass
class SessionReport:
    session_id: str
    calls: int = 0
    energy_j: float = 0.0
    carbon_g: float = 0.0
    by_model: dict[str, float] = field(default_factory=dict)
    budget_g: float | None = None

    @property
    def energy_kwh(self) -> float:
        return self.energy_j / JOULES_PER_KWH

    @property
    def budget_used(self) -> float | None:
        if self.budget_g is None or self.budget_g == 0:
            return None
        return self.carbon_g / self.budget_g

    def summary(self) -> str:
        line = f"{self.session_id}: {self.calls} call(s), {self.carbon_g:.3f} gCO2e"
        used = self.budget_used
        if used is not None:
            line += f" ({used:.0%} of budget)"
        return line


class CarbonTracker:
    """Records model calls and keeps per-session totals."""

    def __init__(
        self,
        profiles: Iterable[EnergyProfile],
        grid_intensity_g_per_kwh: float = DEFAULT_GRID_INTENSITY_G_PER_KWH,
        default_profile: EnergyProfile | None = None,
    ) -> None:
        if grid_intensity_g_per_kwh <= 0:
            raise ValueError("grid intensity must be positive")
        self._profiles = {profile.model: profile for profile in profiles}
        self._grid_intensity = grid_intensity_g_per_kwh
        self._default_profile = default_profile
        self._records: list[CallRecord] = []
        self._budgets: dict[str, float] = {}
        self._totals: dict[str, float] = defaultdict(float)

    def set_budget(self, session_id: str, grams: float) -> None:
        if grams < 0:
            raise ValueError("a carbon budget cannot be negative")
        self._budgets[session_id] = grams

    def profile_for(self, model: str) -> EnergyProfile:
        profile = self._profiles.get(model, self._default_profile)
        if profile is None:
            raise KeyError(f"no energy profile for model {model!r}")
        return profile

    def estimate(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """Return the grams of CO2e a call would emit, without recording it."""
        energy = self.profile_for(model).energy_joules(prompt_tokens, completion_tokens)
        return energy / JOULES_PER_KWH * self._grid_intensity

    def record(
        self, session_id: str, model: str, prompt_tokens: int, completion_tokens: int
    ) -> CallRecord:
        energy = self.profile_for(model).energy_joules(prompt_tokens, completion_tokens)
        carbon = energy / JOULES_PER_KWH * self._grid_intensity
        budget = self._budgets.get(session_id)
        attempted = self._totals[session_id] + carbon
        if budget is not None and attempted > budget:
            raise CarbonBudgetExceededError(session_id, budget, attempted)
        record = CallRecord(session_id, model, prompt_tokens, completion_tokens, energy, carbon)
        self._records.append(record)
        self._totals[session_id] = attempted
        return record

    def remaining_budget(self, session_id: str) -> float | None:
        budget = self._budgets.get(session_id)
        if budget is None:
            return None
        return max(0.0, budget - self._totals[session_id])

    def report(self, session_id: str) -> SessionReport:
        report = SessionReport(session_id, budget_g=self._budgets.get(session_id))
        for record in self._records:
            if record.session_id != session_id:
                continue
            report.calls += 1
            report.energy_j += record.energy_j
            report.carbon_g += record.carbon_g
            report.by_model[record.model] = report.by_model.get(record.model, 0.0) + record.carbon_g
        return report

    def sessions(self) -> list[str]:
        return sorted({record.session_id for record in self._records})

    def total_carbon_g(self) -> float:
        return sum(record.carbon_g for record in self._records)

    def top_sessions(self, limit: int = 3) -> list[tuple[str, float]]:
        """Sessions with the highest emissions, largest first."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        totals = sorted(self._totals.items(), key=lambda item: (-item[1], item[0]))
        return [(session, grams) for session, grams in totals[:limit] if grams > 0]

    def greenest_model(self, prompt_tokens: int, completion_tokens: int) -> str:
        """Return the profiled model that would emit least for the given call size."""
        if not self._profiles:
            raise LookupError("no energy profiles registered")
        return min(
            self._profiles,
            key=lambda model: (self.estimate(model, prompt_tokens, completion_tokens), model),
        )
