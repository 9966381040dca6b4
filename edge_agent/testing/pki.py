"""A throwaway certificate authority (trustme) for brokers that require client certificates."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


class Pki:
    """CA, a server certificate for 127.0.0.1 and a client certificate, written to `folder`."""

    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.folder = folder
        self.ca_pem = self._write("ca.pem", self.ca.cert_pem.bytes())
        server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.server = (
            self.ca_pem,
            self._write("server.pem", server.cert_chain_pems[0].bytes()),
            self._write("server.key", server.private_key_pem.bytes()),
        )
        client = self.ca.issue_cert("store-test", common_name="store-test")
        self.client_cert = self._write("client.pem", client.cert_chain_pems[0].bytes())
        self.client_key = self._write("client.key", client.private_key_pem.bytes())

    def _write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        return path

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_pem))
        ctx.load_cert_chain(str(self.client_cert), str(self.client_key))
        return ctx
