"""An S3-compatible endpoint for the tests: moto's server on a free loopback port (there is
no S3 here), buckets created and filled with boto3."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

ACCESS_KEY = "rpaml-test-key"
SECRET_KEY = "rpaml-test-secret"


@dataclass
class Bucket:
    """A bucket on the moto server, and the variables a process file's placeholders need."""

    endpoint: str
    name: str
    client: Any

    def put(self, key: str, body: bytes) -> None:
        """Upload one object."""
        self.client.put_object(Bucket=self.name, Key=key, Body=body)

    def put_many(self, objects: dict[str, bytes]) -> None:
        """Upload many objects, eight at a time."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda item: self.put(*item), objects.items()))

    @property
    def variables(self) -> dict[str, str]:
        """``${S3_ENDPOINT}``, ``${S3_ACCESS_KEY}``, ``${S3_SECRET_KEY}``."""
        return {
            "S3_ENDPOINT": self.endpoint,
            "S3_ACCESS_KEY": ACCESS_KEY,
            "S3_SECRET_KEY": SECRET_KEY,
        }

    def source(self, **overrides: Any) -> dict[str, Any]:
        """An ``object_store`` source declaration for this bucket (placeholders only)."""
        return {
            "name": "bucket",
            "kind": "object_store",
            "bucket": self.name,
            "endpoint_url": "${S3_ENDPOINT}",
            "access_key": "${S3_ACCESS_KEY}",
            "secret_key": "${S3_SECRET_KEY}",
            "region": "us-east-1",
            **overrides,
        }


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server on ``127.0.0.1:<free port>`` for the block; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def bucket() -> Iterator[Bucket]:
    """A fresh bucket on a fresh moto server."""
    import boto3

    with moto_server() as endpoint:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )
        name = f"rpaml-{uuid.uuid4().hex[:10]}"
        client.create_bucket(Bucket=name)
        yield Bucket(endpoint, name, client)
