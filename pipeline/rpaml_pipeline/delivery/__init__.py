"""Delivery of processed records, scores and decisions (the process file's ``delivery:``).

Targets: a Parquet data lake partitioned by process and date (atomic writes), a warehouse
table through SQLAlchemy (upsert by natural key), a CSV or Excel report, and a webhook
(POST with retries and backoff). Run them with :func:`deliver` (``rpaml deliver``).
"""

from rpaml_pipeline.delivery.columns import Column, delivery_columns
from rpaml_pipeline.delivery.lake import lake_schema, partition_dir, write_part
from rpaml_pipeline.delivery.run import DELIVER_STEP, DeliveryReport, TargetReport, deliver
from rpaml_pipeline.delivery.sinks import target_location
from rpaml_pipeline.delivery.warehouse import upsert, upsert_frame, warehouse_table

__all__ = [
    "DELIVER_STEP",
    "Column",
    "DeliveryReport",
    "TargetReport",
    "deliver",
    "delivery_columns",
    "lake_schema",
    "partition_dir",
    "target_location",
    "upsert",
    "upsert_frame",
    "warehouse_table",
    "write_part",
]
