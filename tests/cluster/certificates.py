"""Throw-away TLS certificates for the tests' Redis processes, made with the openssl CLI.

One CA per directory; `issue` signs a server certificate naming the given IP addresses
or host names (its subjectAltName), valid for a day. Redis serves it to tether and to
its own replicas, cluster peers and sentinels, which check it against the same CA; it
is a client certificate too (the cluster bus asks each peer for one).
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA's certificate: what clients trust
    cert: Path  # the server's certificate, and its key
    key: Path


class TestCA:
    """A certificate authority in `directory`, created on first use."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cert, self._key = directory / "ca.crt", directory / "ca.key"

    def issue(self, name: str, *subjects: str) -> Certificates:
        """A server certificate (`name`.crt, `name`.key) for `subjects` ("127.0.0.1", ...)."""
        self._create()
        cert, key, request = (self.directory / f"{name}.{ext}" for ext in ("crt", "key", "csr"))
        alt = ",".join(f"{_kind(subject)}:{subject}" for subject in subjects)
        extensions = self.directory / f"{name}.ext"
        extensions.write_text(
            f"subjectAltName={alt}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n"
            "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
        )
        _openssl("req", *_KEY, "-keyout", key, "-out", request, "-subj", f"/CN={subjects[0]}")
        _openssl(
            *("x509", "-req", "-in", request, "-CA", self.cert, "-CAkey", self._key),
            *("-CAcreateserial", "-days", "1", "-extfile", extensions, "-out", cert),
        )
        return Certificates(self.cert, cert, key)

    def _create(self) -> None:
        if self.cert.exists():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        _openssl(
            *("req", "-x509", *_KEY, "-keyout", self._key, "-out", self.cert, "-days", "1"),
            *("-subj", "/CN=tether test CA", "-addext", "basicConstraints=critical,CA:TRUE"),
            *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
        )


def _kind(subject: str) -> str:
    try:
        ipaddress.ip_address(subject)
    except ValueError:
        return "DNS"
    return "IP"


def _openssl(*args: str | Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise RuntimeError("openssl not found: the TLS tests make their certificates with it")
    subprocess.run([binary, *map(str, args)], check=True, capture_output=True, timeout=30)
