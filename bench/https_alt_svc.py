"""Serves a directory over HTTPS (HTTP/1.1), announcing HTTP/3 on a UDP port in an Alt-Svc header, as large sites
do: the probe footprint benchmark's HTTPS half (bench/probe_run.sh), whose HTTP/3 side is vigil-lab-h3.

    python3 bench/https_alt_svc.py HOST PORT H3_PORT CERT KEY DIRECTORY
"""

import functools
import http.server
import ssl
import sys


def main() -> None:
    host, port, h3_port, cert, key, directory = sys.argv[1:7]

    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self) -> None:
            self.send_header("Alt-Svc", f'h3=":{h3_port}"; ma=3600')
            super().end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, int(port)), functools.partial(Handler, directory=directory))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
