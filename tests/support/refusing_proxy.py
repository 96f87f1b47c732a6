# Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
"""An HTTP proxy on loopback that records every CONNECT request and refuses it with 403, for
the tests that check a program goes through the proxy of https_proxy. Standard library only."""

import socket
import threading


class RefusingProxy:
    def __init__(self):
        self.requests = []  # each request's head, as received
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, credentials=""):
        return f"http://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}"

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 8192:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                self.requests.append(head.decode("latin-1"))
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nVia: 1.1 refusing-proxy\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")

    def stop(self):
        self.sock.close()
