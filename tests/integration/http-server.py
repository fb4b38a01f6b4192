#!/usr/bin/env python3
"""A small HTTP server for the build tests (ADD from URLs).

Serves the files of DIR on 127.0.0.1 at a free port, which it writes to
PORTFILE once listening. Files get Last-Modified from their mtime (as
http.server does); a missing file is "404 File not found";
/redirect/PATH answers 302 to /PATH; /gone answers "410 Gone". Each
request is appended to DIR/../requests.log.
Usage: http-server.py DIR PORTFILE
"""
import http.server
import os
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        with open(os.path.join(os.path.dirname(os.path.abspath(self.directory)), "requests.log"), "a") as f:
            f.write(self.path + "\n")

    def do_GET(self):
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/redirect"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/gone":
            self.send_error(410, "Gone")
            return
        super().do_GET()


def main():
    directory, portfile = sys.argv[1], sys.argv[2]
    handler = lambda *a, **kw: Handler(*a, directory=directory, **kw)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
