"""Monitoring: live feature and score distributions against the training reference,
alerts, and their Prometheus export."""
