"""A local S3 server for tests: moto's server mode on 127.0.0.1, reached the way users reach theirs.

The endpoint and credentials go into the environment (AWS_ENDPOINT_URL, ...), where boto, s3fs
and Dask workers started afterwards find them; nothing is passed to Yuliao directly.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import boto3
from moto.server import ThreadedMotoServer

BUCKET = "yuliao-test"


@contextlib.contextmanager
def s3_server(monkeypatch) -> Iterator[str]:
    """Start the server, make `BUCKET`, point the environment at it; yields the endpoint URL."""
    import s3fs

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for key, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s3fs.S3FileSystem.clear_instance_cache()  # a cached instance would keep another endpoint
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def objects(prefix: str) -> dict[str, tuple[str, bytes]]:
    """key (below `prefix`) → (ETag, bytes) of every object under s3://BUCKET/prefix."""
    client = boto3.client("s3")
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            out[obj["Key"].removeprefix(prefix)] = (obj["ETag"], body)
    return out
