"""The monitoring section of a process file: when live data has moved from training.

```yaml
monitoring:
  psi_warn: 0.1      # a feature's or the score's PSI from here warns
  psi_alert: 0.25    # and from here alerts
  min_rows: 200      # a scoring run judges drift only once it scored this many rows
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
    """Rows a scoring run needs before its distributions are judged (fewer: figures only)."""
    ks_alert: float = Field(default=0.2, gt=0, le=1)
    """Binned Kolmogorov-Smirnov distance of the score distribution that alerts."""

    @model_validator(mode="after")
    def _warn_below_alert(self) -> MonitoringSpec:
        if self.psi_warn > self.psi_alert:
            raise ValueError(
                f"psi_warn ({self.psi_warn}) must not exceed psi_alert ({self.psi_alert})"
            )
        return self
