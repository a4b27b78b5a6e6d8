"""rpaml staging pipeline: process definitions, staging store, steps, lineage, CLI."""
