"""docker-compose.yml: valid for Docker Compose, complete, and every service comes up.

Docker does not run on these machines, so the file is checked in two ways: Docker Compose's
own loader (``config``) validates it against the Compose specification and resolves it, and
each service's resolved command, environment and health check are then run locally, with
this virtualenv's interpreter instead of the image's, the machine's PostgreSQL in a fresh
database instead of the ``postgres`` container, and free ports instead of container ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rpaml_service.auth import digest

PROJECT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = PROJECT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT / ".env.example"
DOCKERFILE = PROJECT / "docker" / "Dockerfile"
LONG_RUNNING = ("postgres", "portal", "service", "worker", "review")
#: Where the images keep state (volumes) and the project (worker image).
STATE_ROOT = "/var/lib/rpaml"
IMAGE_PROJECT_DIR = "/opt/rpaml"


def compose_config(
    binary: Path, compose_file: Path, env_file: Path, *profiles: str
) -> subprocess.CompletedProcess[str]:
    profile_args = [arg for profile in profiles for arg in ("--profile", profile)]
    return subprocess.run(
        [str(binary), "--file", str(compose_file), "--project-directory", str(PROJECT),
         "--env-file", str(env_file), *profile_args, "config", "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False,
        # Only the env file may feed the interpolation, never this machine's variables.
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
    )  # fmt: skip


def resolved_model(binary: Path, env_file: Path, *profiles: str) -> dict[str, Any]:
    result = compose_config(binary, COMPOSE_FILE, env_file, *profiles)
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = json.loads(result.stdout)
    return model


# ---- the file itself -------------------------------------------------------------------


def test_compose_file_is_valid_for_docker_compose(compose_binary: Path) -> None:
    model = resolved_model(compose_binary, ENV_EXAMPLE, "bootstrap")
    assert set(model["services"]) == {*LONG_RUNNING, "bootstrap"}
    # Without the bootstrap profile the one-shot is not part of `docker compose up`.
    assert "bootstrap" not in resolved_model(compose_binary, ENV_EXAMPLE)["services"]


def test_docker_compose_rejects_what_the_specification_forbids(
    compose_binary: Path, tmp_path: Path
) -> None:
    """The validation can fail: a misspelt key and an undefined dependency are refused."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    misspelt = tmp_path / "misspelt.yml"
    misspelt.write_text(text.replace("    shm_size: 1gb", "    shm_sise: 1gb"), encoding="utf-8")
    result = compose_config(compose_binary, misspelt, ENV_EXAMPLE)
    assert result.returncode != 0
    assert "additional properties 'shm_sise' not allowed" in result.stderr
    dangling = tmp_path / "dangling.yml"
    dangling.write_text(text.replace("      portal:\n        condition", "      portl:\n"
                                     "        condition"), encoding="utf-8")  # fmt: skip
    result = compose_config(compose_binary, dangling, ENV_EXAMPLE)
    assert result.returncode != 0
    assert "portl" in result.stderr


def test_required_secrets_must_be_set(compose_binary: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    result = compose_config(compose_binary, COMPOSE_FILE, empty)
    assert result.returncode != 0
    assert "required variable" in result.stderr


def _env_file_keys(path: Path) -> dict[str, str]:
    pairs = [
        line.split("=", 1)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return {key.strip(): value.strip() for key, value in pairs}


def test_env_example_names_every_variable_with_placeholder_secrets() -> None:
    example = _env_file_keys(ENV_EXAMPLE)
    used = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text(encoding="utf-8")))
    assert used - set(example) == set(), "variables of docker-compose.yml missing from .env.example"
    assert set(example) - used == set(), ".env.example names variables nothing reads"
    secrets = [k for k in example if re.search(r"PASSWORD|TOKEN|SECRET|API_KEY", k)]
    assert len(secrets) >= 6
    for key in secrets:
        assert "change-me" in example[key], f"{key} in .env.example must be a placeholder"


def test_long_running_services_have_health_checks_and_scale(compose_binary: Path) -> None:
    services = resolved_model(compose_binary, ENV_EXAMPLE)["services"]
    for name in LONG_RUNNING:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    service = services["service"]
    assert service["deploy"]["replicas"] >= 2
    command = service["command"]
    assert int(command[command.index("--workers") + 1]) >= 2
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert any(":ro" in str(v) or v.get("read_only") for v in service["volumes"])


# ---- the images -------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    parent: str
    instructions: list[tuple[str, str]]


def dockerfile_stages(path: Path) -> dict[str, Stage]:
    """The stages of a Dockerfile with their instructions (continuations joined)."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == "FROM":
            parts = rest.split()
            current = Stage(name=parts[-1], parent=parts[0], instructions=[])
            stages[current.name] = current
        elif current is not None:
            current.instructions.append((keyword.upper(), rest.strip()))
    return stages


def image_environment(stages: Mapping[str, Stage], target: str) -> dict[str, str]:
    """The ``ENV`` of a target stage, its parent stages' first."""
    chain = []
    name = target
    while name in stages:
        chain.append(stages[name])
        name = stages[name].parent
    env: dict[str, str] = {}
    for stage in reversed(chain):
        for keyword, rest in stage.instructions:
            if keyword == "ENV":
                env.update(item.partition("=")[::2] for item in shlex.split(rest))
    return env


def test_images_pin_their_base_and_carry_only_their_role() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in text
    stages = dockerfile_stages(DOCKERFILE)
    assert {"service", "sandbox", "worker"} <= set(stages)

    def runs(stage: str) -> str:
        return " ".join(rest for keyword, rest in stages[stage].instructions if keyword == "RUN")

    assert "[service]" in runs("service") and "[robots]" not in runs("service")
    assert "apt-get" not in runs("service")
    assert "[sandbox]" in runs("sandbox")
    worker = runs("worker")
    assert "[robots]" in worker
    for package in ("chromium", "chromium-driver", "xvfb", "xclip", "xdotool"):
        assert re.search(rf"\s{re.escape(package)}\s", worker), f"worker image lacks {package}"


# ---- every service comes up locally ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def local_argv(argv: list[str]) -> list[str]:
    """The container's command with this virtualenv's interpreter."""
    head, *rest = argv
    programs = {
        "python": [sys.executable],
        "uvicorn": [sys.executable, "-m", "uvicorn"],
        "rpaml": [sys.executable, "-m", "rpaml_pipeline.cli"],
    }
    return [*programs.get(head, [head]), *rest]


@dataclass
class Localizer:
    """Rewrites container addresses and paths into this machine's."""

    replacements: dict[str, str]
    ports: dict[str, int]  # container port -> local port of the service being started

    def text(self, value: str) -> str:
        for old, new in self.replacements.items():
            value = value.replace(old, new)
        return value

    def argv(self, argv: list[str]) -> list[str]:
        out = [self.text(arg) for arg in argv]
        for index, arg in enumerate(out[:-1]):
            if arg == "--port" and out[index + 1] in self.ports:
                out[index + 1] = str(self.ports[out[index + 1]])
        return out


class LocalService:
    """One compose service's command running as a local process in its own session."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                argv, env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        # uvicorn's worker processes and a worker's robots are in this session's group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)


def healthcheck_argv(service: Mapping[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    kind, *argv = test
    assert kind == "CMD", "health checks are exec-form commands"
    return list(argv)


def wait_healthy(
    service: LocalService | None, check: Callable[[], subprocess.CompletedProcess[bytes]],
    timeout: float,
) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result.returncode == 0:
            return result
        if service is not None and not service.alive():
            raise AssertionError(f"{service.name} exited:\n{service.log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            log = service.log.read_text()[-3000:] if service else ""
            raise AssertionError(f"health check never passed: {result.stdout!r}\n{log}")
        time.sleep(0.5)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server side of the loopback TCP connection client_port -> port."""
    local = f"0100007F:{server_port:04X}"
    remote = f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return fields[9]
    return None


def _owner(pids: list[int], inode: str) -> int | None:
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


def _get(sock: socket.socket, path: str) -> tuple[int, dict[str, Any]]:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: service\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE)[1])  # type: ignore[index]
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), json.loads(body)


def answering_processes(port: int, worker_pids: list[int], connections: int) -> dict[int, int]:
    """Open ``connections`` connections to the service, ask readiness on each, and count
    which uvicorn worker process holds the server side of each connection."""
    answered: dict[int, int] = {}
    opened = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(connections)]
    try:
        for sock in opened:
            status, body = _get(sock, "/v1/health/ready")
            assert status == 200 and body["ready"] is True, body
            inode = _socket_inode(port, sock.getsockname()[1])
            owner = _owner(worker_pids, inode) if inode else None
            assert owner is not None, "no uvicorn worker holds the connection"
            answered[owner] = answered.get(owner, 0) + 1
    finally:
        for sock in opened:
            sock.close()
    return answered


@pytest.fixture
def local_env_file(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The .env of this run: .env.example with real random secrets in place."""
    import secrets as random

    values = _env_file_keys(ENV_EXAMPLE)
    for key, value in values.items():
        if "change-me" in value:
            values[key] = random.token_urlsafe(18)
    values["RPAML_SERVICE_API_KEYS"] = (
        f"'[\"worker:score:{digest(values['RPAML_SERVICE_API_KEY'])}\"]'"
    )
    path = tmp_path / "local.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    yield path, values


@pytest.mark.postgres
@pytest.mark.serial
def test_every_service_comes_up_locally(
    compose_binary: Path,
    local_env_file: tuple[Path, dict[str, str]],
    registry_dir: Path,
    pg_database: str,
    tmp_path: Path,
) -> None:
    env_file, values = local_env_file
    model = resolved_model(compose_binary, env_file)
    services = model["services"]
    stages = dockerfile_stages(DOCKERFILE)
    state = tmp_path / "state"
    for folder in ("portal", "data"):
        (state / folder).mkdir(parents=True)
    (state / "registry").symlink_to(registry_dir)
    portal_port, service_port = free_port(), free_port()
    compose_store_url = (
        f"postgresql+psycopg://rpaml:{values['POSTGRES_PASSWORD']}@postgres:5432/rpaml"
    )
    localizer = Localizer(
        replacements={
            compose_store_url: pg_database,
            "http://portal:8010": f"http://127.0.0.1:{portal_port}",
            "http://service:8000": f"http://127.0.0.1:{service_port}",
            "http://127.0.0.1:8010": f"http://127.0.0.1:{portal_port}",
            "http://127.0.0.1:8000": f"http://127.0.0.1:{service_port}",
            STATE_ROOT: str(state),
            IMAGE_PROJECT_DIR: str(PROJECT),
        },
        ports={"8010": portal_port, "8000": service_port},
    )
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("RPAML_")}

    def env_of(name: str) -> dict[str, str]:
        target = services[name].get("build", {}).get("target")
        image = image_environment(stages, target) if target else {}
        env = {**image, **(services[name].get("environment") or {})}
        return {**base_env, **{k: localizer.text(str(v)) for k, v in env.items()}}

    def check(name: str) -> Callable[[], subprocess.CompletedProcess[bytes]]:
        argv = local_argv(localizer.argv(healthcheck_argv(services[name])))
        return lambda: subprocess.run(
            argv, env=env_of(name), capture_output=True, timeout=30, check=False, cwd=tmp_path
        )

    # postgres: the machine's server stands in for the container; its check must pass.
    wait_healthy(None, check("postgres"), 10)

    started: list[LocalService] = []
    try:
        for name in ("portal", "service"):
            argv = local_argv(localizer.argv(services[name]["command"]))
            started.append(LocalService(name, argv, env_of(name), tmp_path / f"{name}.log"))
        portal, service = started
        wait_healthy(portal, check("portal"), 60)
        wait_healthy(service, check("service"), 60)

        # The service runs as several uvicorn worker processes; each loaded the models
        # in its lifespan, and connections reach both.
        # (uvicorn spawns them with multiprocessing; its resource tracker is no worker)
        workers = [
            pid
            for pid in _children(service.popen.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        declared = services["service"]["command"]
        assert len(workers) == int(declared[declared.index("--workers") + 1]) == 2
        answered: dict[int, int] = {}
        for _ in range(10):
            for pid, count in answering_processes(service_port, workers, 16).items():
                answered[pid] = answered.get(pid, 0) + count
            if set(answered) == set(workers):
                break
        assert set(answered) == set(workers), f"only {answered} answered"

        argv = local_argv(localizer.argv(services["worker"]["command"]))
        worker = LocalService("worker", argv, env_of("worker"), tmp_path / "worker.log")
        started.append(worker)
        result = wait_healthy(worker, check("worker"), 60)
        status = json.loads(result.stdout)
        assert {"records", "workflows", "queues", "runs"} <= set(status)
        # The health check reads the database, which answers before the worker has set
        # up its queues (or printed anything): wait for its log to say it has.
        deadline = time.monotonic() + 60
        while "queues " not in worker.log.read_text() and worker.alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "queues " in worker.log.read_text(), worker.log.read_text()
        assert worker.alive()
    finally:
        for child in reversed(started):
            child.stop()


def test_the_review_app_is_part_of_the_deployment(compose_binary: Path) -> None:
    # The shipped process queues its escalations for people, so `up` starts the queue.
    review = resolved_model(compose_binary, ENV_EXAMPLE)["services"]["review"]
    assert review["command"][:3] == ["python", "-m", "rpaml_review"]
    assert review["build"]["target"] == "review"
    assert review["healthcheck"]["test"]
    assert review["environment"]["RPAML_STORE_URL"].startswith("postgresql+psycopg://")
    # The accounts' hashes reach the app as written (no $ interpolated away; `config`
    # prints a literal $ as $$ so that its output loads again).
    accounts = review["environment"]["RPAML_REVIEW_ACCOUNTS"].replace("$$", "$")
    assert "$argon2id$change-me-hash" in accounts
    stages = dockerfile_stages(DOCKERFILE)
    runs = " ".join(rest for keyword, rest in stages["review"].instructions if keyword == "RUN")
    assert "[review]" in runs and "[robots]" not in runs and "apt-get" not in runs
