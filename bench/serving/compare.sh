#!/usr/bin/env bash
# make bench-compare: install the peers (MLflow, BentoML) in their own virtualenvs under
# bench/serving/.venvs (git-ignored), never into the project's environment, then run the
# serving benchmark with them. A peer that cannot be installed is reported by the
# benchmark as "not installed"; no figure is ever invented for it.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
mkdir -p "$here/.venvs"
install_peer() {  # name, packages...
  local name="$1"; shift
  local venv="$here/.venvs/$name"
  if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.installed" ]; then
    echo "installing $name into $venv"
    "$python" -m venv "$venv" &&
      "$venv/bin/python" -m pip install -q --upgrade pip &&
      timeout 900 "$venv/bin/python" -m pip install -q "$@" &&
      touch "$venv/.installed" ||
      echo "warning: could not install $name; the benchmark will say so" >&2
  fi
}
# The peers unpickle the same pipeline, which needs the project's model layer: install
# its core (numpy, pandas, scikit-learn, pydantic) at the project's pins with the peer.
install_peer mlflow "mlflow-skinny>=3,<4" "scikit-learn>=1.9,<1.10" "pandas>=2.2" "pydantic-settings>=2.6" uvicorn fastapi
install_peer bentoml "bentoml>=1.4,<2" "scikit-learn>=1.9,<1.10" "pandas>=2.2" "pydantic-settings>=2.6"
exec "$root/.venv/bin/python" "$here/bench.py" --peers "$@"
