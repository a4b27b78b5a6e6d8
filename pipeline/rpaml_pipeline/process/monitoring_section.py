"""The monitoring section of a process file: when live data has moved from training.

```yaml
monitoring:
  psi_warn: 0.1      # a feature's or the score's PSI from here warns
  psi_alert: 0.25    # and from here alerts
  min_rows: 200      # drift is judged on this many rows: a smaller scoring run together
                     # with the earlier runs of the last window_hours (24), newest first
  min_labels: 30     # a decision week is judged once this many of its decisions are labelled
  cost_vs_baseline: 1.0   # alert: the week's decisions cost more than this times the
                          # cheapest always-one-action policy on the same labelled records
  cost_vs_history: 1.25   # alert: cost per labelled decision above this times the median
                          # of the earlier judged weeks
  ece_alert: 0.1     # alert: the week's expected calibration error from here
```
"""

from __future__ import annotations

from pydantic import Field, model_validator

from rpaml_pipeline.process.section_base import Section


class MonitoringSpec(Section):
    """Drift thresholds against the champion's training reference
    (see :mod:`rpaml_pipeline.monitoring.drift_check`)."""

    psi_warn: float = Field(default=0.1, gt=0)
    """Population stability index from which a feature or the score is reported as a warning."""
    psi_alert: float = Field(default=0.25, gt=0)
    """Population stability index from which it is an alert."""
    min_rows: int = Field(default=200, ge=1)
    """Rows a drift verdict needs: a smaller scoring run is judged with the earlier runs of
    the window (fewer even so: figures only)."""
    window_hours: float = Field(default=24.0, gt=0)
    """How far back earlier scoring runs may fill a small run's verdict up to ``min_rows``."""
    ks_alert: float = Field(default=0.2, gt=0, le=1)
    """Binned Kolmogorov-Smirnov distance of the score distribution that alerts."""
    min_labels: int = Field(default=30, ge=1)
    """Labelled decisions a decision week needs before its outcomes are judged."""
    cost_vs_baseline: float = Field(default=1.0, gt=0)
    """A week whose realised cost per labelled decision exceeds this times the cheapest
    always-one-action baseline's on the same records alerts."""
    cost_vs_history: float = Field(default=1.25, gt=0)
    """A week whose realised cost per labelled decision exceeds this times the median of
    the earlier judged weeks alerts."""
    ece_alert: float = Field(default=0.1, gt=0, le=1)
    """Expected calibration error of a week's labelled decisions that alerts."""

    @model_validator(mode="after")
    def _warn_below_alert(self) -> MonitoringSpec:
        if self.psi_warn > self.psi_alert:
            raise ValueError(
                f"psi_warn ({self.psi_warn}) must not exceed psi_alert ({self.psi_alert})"
            )
        return self
