"""Access control: bearer token, TLS with a generated self-signed certificate, limits."""

from __future__ import annotations

import datetime
import ipaddress
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scenesearch.client.remote import ClientError, SceneSearchClient
from scenesearch.server.app import RunningServer, start_server
from tests.conftest import make_settings

TOKEN = "s3cret-token"


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, media_root: Path
) -> Iterator[tuple[RunningServer, bytes]]:
    directory = tmp_path_factory.mktemp("secure")
    cert, key = self_signed(directory)
    settings = replace(
        make_settings(directory / "data", tiny_model, media_root),
        auth_token=TOKEN,
        tls_cert=cert,
        tls_key=key,
        max_concurrent_rpcs=4,
        max_workers=16,
        max_queued_jobs=1,
    )
    running = start_server(settings)
    yield running, cert.read_bytes()
    running.stop(1.0)


def client_for(secured: tuple[RunningServer, bytes], token: str | None) -> SceneSearchClient:
    server, ca = secured
    return SceneSearchClient(
        f"localhost:{server.port}", timeout_s=30, token=token, root_certificates=ca
    )


def test_right_token_over_tls_works(secured: tuple[RunningServer, bytes]) -> None:
    with client_for(secured, TOKEN) as client:
        assert client.stats().video_count == 0
        assert client.search_text("anything").hits == []


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", ""])
def test_missing_or_wrong_token_is_unauthenticated(
    secured: tuple[RunningServer, bytes], token: str | None
) -> None:
    with client_for(secured, token) as client:
        for call in (
            client.stats,
            lambda: client.search_text("x"),
            client.list_videos,
            lambda: client.ingest_path("/x.mp4"),
        ):
            with pytest.raises(ClientError) as info:
                call()
            assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
            assert "Bearer" in info.value.message


def test_health_needs_no_token(secured: tuple[RunningServer, bytes]) -> None:
    server, ca = secured
    creds = grpc.ssl_channel_credentials(root_certificates=ca)
    with grpc.secure_channel(f"localhost:{server.port}", creds) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_plaintext_client_cannot_talk_to_a_tls_server(secured: tuple[RunningServer, bytes]) -> None:
    server, _ = secured
    with SceneSearchClient(f"127.0.0.1:{server.port}", timeout_s=5, token=TOKEN) as client:
        with pytest.raises(ClientError) as info:
            client.stats()
        assert info.value.code == grpc.StatusCode.UNAVAILABLE


def test_concurrent_rpc_limit_gives_resource_exhausted(
    secured: tuple[RunningServer, bytes], media_root: Path
) -> None:
    # Hold the 4 allowed RPC slots with uploads that send their header and then wait.
    from scenesearch.v1 import scenesearch_pb2 as pb

    release = threading.Event()

    def held() -> Iterator[pb.UploadVideoRequest]:
        yield pb.UploadVideoRequest(header=pb.UploadHeader(filename="slow.mp4"))
        release.wait(20)

    with client_for(secured, TOKEN) as client:
        # Six callers for four slots, and nothing else in flight: exactly two are refused.
        calls = [
            client.stub.UploadVideo(held(), timeout=30, metadata=client.metadata) for _ in range(6)
        ]
        try:
            for _ in range(100):
                if sum(c.done() for c in calls) >= 2:
                    break
                threading.Event().wait(0.1)
            threading.Event().wait(0.5)
            refused = [c.code() for c in calls if c.done()]
            assert refused == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 2
            with pytest.raises(ClientError) as info:
                client.stats()
            assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "busy" in info.value.message
        finally:
            for call in calls:
                call.cancel()
            release.set()
        # Slots come back once the holders are gone.
        for _ in range(50):
            try:
                assert client.stats().video_count >= 0
                break
            except ClientError:
                threading.Event().wait(0.1)
        else:
            pytest.fail("the server did not recover its RPC slots")
