"""Delivery of processed records, scores and decisions (the process file's ``delivery:``).

Targets: a Parquet data lake partitioned by process and date (atomic writes), a warehouse
table through SQLAlchemy (upsert by natural key), a CSV or Excel report, and a webhook
(POST with retries and backoff). Run them with :func:`deliver` (``rpaml deliver``).
"""

from rpaml_pipeline.delivery.columns import Column, delivery_columns, record_row, row_hash
from rpaml_pipeline.delivery.lake import lake_schema, partition_dir, write_part, write_rows
from rpaml_pipeline.delivery.run import DELIVER_STEP, DeliveryReport, TargetReport, deliver
from rpaml_pipeline.delivery.sinks import target_location
from rpaml_pipeline.delivery.warehouse import upsert, warehouse_table

__all__ = [
    "DELIVER_STEP",
    "Column",
    "DeliveryReport",
    "TargetReport",
    "deliver",
    "delivery_columns",
    "lake_schema",
    "partition_dir",
    "record_row",
    "row_hash",
    "target_location",
    "upsert",
    "warehouse_table",
    "write_part",
    "write_rows",
]
