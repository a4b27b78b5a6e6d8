"""rpaml scoring service (FastAPI)."""
