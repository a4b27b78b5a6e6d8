"""The review app: escalated records decided by people in the browser (``rpaml review``).

A server-rendered FastAPI + Jinja2 application over the staging store's review queue
(:mod:`rpaml_pipeline.store.review_queue`). Reviewers log in (accounts hashed with
Argon2, roles ``reviewer`` and ``admin``), lease one item at a time, and decide it with
buttons or the keyboard; the decision is the record's final action for the act robot and
a label with provenance.

Import directions (checked by import-linter, see pyproject.toml): this package uses the
pipeline (the store, the process definition, the settings) and nothing else of rpaml;
nothing but the CLI (the composition root) imports it.
"""
