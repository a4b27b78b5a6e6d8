"""``python -m rpaml_pipeline.cli``: the same as the ``rpaml`` command."""

from rpaml_pipeline.cli import main

main()
