"""A real local S3 server for tests (moto's threaded server) and buckets on it.

Example::

    with s3_server() as endpoint:          # "127.0.0.1:PORT"
        uri = bucket_uri(endpoint, "exchange", "hub/exchange")  # creates the bucket
        ...  # s3://exchange/hub/exchange?endpoint_override=127.0.0.1:PORT&scheme=http&…

Credentials are dummies for the local server (set with :func:`dummy_credentials`); real
ones come from the environment and never from a URI.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager


@contextmanager
def s3_server() -> Iterator[str]:
    """Run moto's S3 server on a free loopback port; yields ``host:port``."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"{host}:{port}"
    finally:
        server.stop()


def dummy_credentials(environ: MutableMapping[str, str]) -> None:
    """The AWS variables the local server accepts (pass ``monkeypatch``-managed env)."""
    environ["AWS_ACCESS_KEY_ID"] = "testing"
    environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    environ["AWS_DEFAULT_REGION"] = "us-east-1"


def create_bucket(endpoint: str, name: str) -> str:
    """Create bucket ``name`` on the server at ``endpoint``; returns the name."""
    import boto3

    client = boto3.client("s3", endpoint_url=f"http://{endpoint}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=name)
    return name


def bucket_uri(endpoint: str, bucket: str, prefix: str) -> str:
    """The pyarrow/hub URI of ``prefix`` in ``bucket`` on the local server."""
    return (f"s3://{bucket}/{prefix}?endpoint_override={endpoint}&scheme=http"
            "&region=us-east-1")
