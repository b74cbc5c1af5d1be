"""The local stack's own certificate authority, for the broker's mutual-TLS listener.

Deployed, AWS IoT Core holds both ends: its server certificate chains to Amazon's root CA, and it
issues each lane's client certificate (``create_keys_and_certificate``). The local broker cannot trust
certificates the emulator makes up, so the local stack has a CA of its own, made once in its state
folder (``tls/``) and kept across restarts (a lane certificate it issued stays valid): it signs the
broker's server certificate (SAN 127.0.0.1 and localhost) and, through `smartgate lane-identity`, one
client certificate per lane whose common name is the lane's thing name. EC P-256, SHA-256. The CA's
key never leaves the state folder; nothing here is for a deployed stage.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "Smart Gate local CA"
SERVER_NAME = "smartgate-local-broker"
CA_DAYS = 3650
LEAF_DAYS = 825


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner may read (mode 0600 from the start, also over an older file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)  # O_CREAT's mode applies only to a new file


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Smart Gate (local)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True)
class IssuedCertificate:
    cert_pem: bytes
    key_pem: bytes
    serial: int


class LocalCa:
    """The CA's files in ``directory``: ``ca.pem`` (public, what clients and the broker trust),
    ``ca.key`` (0600), and the broker's ``server.pem`` / ``server.key``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key_file(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert_file(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key_file(self) -> Path:
        return self.directory / "server.key"

    @classmethod
    def ensure(cls, directory: Path) -> LocalCa:
        """The CA in ``directory``, made (with the broker's certificate) if it is not there yet."""
        ca = cls(directory)
        if not (ca.ca_file.exists() and ca.ca_key_file.exists()):
            ca._create_ca()
        if not (ca.server_cert_file.exists() and ca.server_key_file.exists()):
            issued = ca.issue(SERVER_NAME, server=True)
            ca.server_cert_file.write_bytes(issued.cert_pem)
            write_private(ca.server_key_file, issued.key_pem)
        return ca

    def _create_ca(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = _name(CA_NAME)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        write_private(self.ca_key_file, _key_pem(key))
        self.ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name: str, *, server: bool = False) -> IssuedCertificate:
        """A new key and a certificate for it signed by this CA: a client certificate whose common name
        is ``common_name`` (the broker takes it as the username), or with ``server`` the broker's own
        (SAN 127.0.0.1 and localhost)."""
        ca_key = serialization.load_pem_private_key(self.ca_key_file.read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):  # pragma: no cover - we made it
            raise ValueError(f"{self.ca_key_file} is not an EC key")
        ca_cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        serial = x509.random_serial_number()
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        return IssuedCertificate(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key), serial)
