"""An S3 endpoint for the tests: moto's server mode on 127.0.0.1, as s3fs's own tests use it.

:func:`s3_server` starts ``moto.server.ThreadedMotoServer`` (a real HTTP server speaking the
S3 protocol, in a thread of the test process) on a free port of 127.0.0.1, and stops it on the
way out. :func:`s3` yields an :class:`S3` per test: a fresh prefix in the session's bucket
(:func:`s3_bucket`), the endpoint, and the ``storage_options`` a daskpar reader or writer
takes. The credentials are made up: moto
accepts any; tests that must prove a secret never leaks plant their own (``S3.with_secret``).

Processes started by a test (``dask worker``, a subprocess client) reach the same server by
its endpoint: :meth:`S3.environment` gives the variables that s3fs and botocore read.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = ["S3", "s3", "s3_bucket", "s3_server"]

#: What moto's server accepts as credentials: anything.
ACCESS_KEY = "daskpar-test-key"
SECRET_KEY = "daskpar-test-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@dataclass(frozen=True)
class S3:
    """A place on the test server: a bucket and a prefix in it, the endpoint, and the
    credentials to use."""

    endpoint: str
    bucket: str
    prefix: str = ""
    key: str = ACCESS_KEY
    secret: str = SECRET_KEY
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def storage_options(self) -> dict[str, Any]:
        """What fsspec's ``s3://`` file system (s3fs) takes: keys and the endpoint."""
        return {
            "key": self.key,
            "secret": self.secret,
            "client_kwargs": {"endpoint_url": self.endpoint},
            **self.extra,
        }

    def url(self, *parts: str) -> str:
        """``s3://<bucket>/<prefix>/<parts...>``."""
        return "/".join([f"s3://{self.bucket}", *([self.prefix] if self.prefix else []), *parts])

    def with_secret(self, secret: str) -> S3:
        """The same place, reached with ``secret`` as the secret key (moto accepts any)."""
        return S3(self.endpoint, self.bucket, self.prefix, self.key, secret, dict(self.extra))

    def environment(self) -> dict[str, str]:
        """The environment variables that give another process this bucket's credentials."""
        return {
            "AWS_ACCESS_KEY_ID": self.key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def filesystem(self) -> Any:
        """A fresh s3fs file system on this server (no cached listings)."""
        import s3fs

        return s3fs.S3FileSystem(skip_instance_cache=True, **self.storage_options)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free port of 127.0.0.1; yields its endpoint URL."""
    pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    port = _free_port()
    # One log line per request: the test output would drown in them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_bucket(s3_server: str) -> Iterator[S3]:
    """A bucket on the test server, for the session (creating one takes moto a second)."""
    import s3fs

    where = S3(s3_server, f"daskpar-{uuid.uuid4().hex[:12]}")
    fs = where.filesystem()
    fs.mkdir(where.bucket)
    try:
        yield where
    finally:
        fs.rm(where.bucket, recursive=True)
        s3fs.S3FileSystem.clear_instance_cache()


@contextmanager
def new_prefix(bucket: S3, stem: str) -> Iterator[S3]:
    """A new, empty prefix ``<stem>-<random>`` in ``bucket``, removed (with what it holds)
    at the end."""
    where = S3(bucket.endpoint, bucket.bucket, f"{stem}-{uuid.uuid4().hex[:12]}")
    try:
        yield where
    finally:
        fs = where.filesystem()
        if fs.exists(where.url()):
            fs.rm(where.url(), recursive=True)


@pytest.fixture
def s3(s3_bucket: S3) -> Iterator[S3]:
    """A new, empty prefix in the session's bucket, removed (with what it holds) afterwards."""
    with new_prefix(s3_bucket, "t") as where:
        yield where
