"""Data quality beyond the per-record contract: drift of a source against its own history."""

from rpaml_pipeline.quality.drift import (
    DriftFinding,
    alerts,
    check_record,
    merge_profiles,
    profile_records,
)

__all__ = ["DriftFinding", "alerts", "check_record", "merge_profiles", "profile_records"]
