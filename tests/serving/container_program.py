"""A stand-in container for launcher/agent tests: serves GET /ping on $SAGEMAKER_BIND_TO_PORT.

Run as a script (``sys.executable container_program.py [options]``); not a test module.
"""

import argparse
import http.server
import os
import signal
import subprocess
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--say", action="append", default=[], help="a line to print at start")
parser.add_argument("--ping-status", type=int, default=200)
parser.add_argument("--fail-when", help="answer /ping 500 once this file exists")
parser.add_argument("--hang-when", help="never answer /ping once this file exists")
parser.add_argument("--exit-at-start", type=int)
parser.add_argument("--ignore-term", action="store_true")
parser.add_argument("--grandchild", help="start a sleeping grandchild; write its pid here")
parser.add_argument("--pidfile", help="write this process's pid here")
parser.add_argument("--ping-log", help="append a line to this file for every /ping answered")
args = parser.parse_args()

for line in args.say:
    print(line, flush=True)
print("env", os.environ["SAGEMAKER_BIND_TO_PORT"], os.environ["SAGEMAKER_SAFE_PORT_RANGE"],
      flush=True)
if args.exit_at_start is not None:
    print("fatal: giving up", file=sys.stderr, flush=True)
    sys.exit(args.exit_at_start)
if args.ignore_term:
    signal.signal(signal.SIGTERM, lambda *_: print("ignoring SIGTERM", flush=True))
else:
    signal.signal(signal.SIGTERM, lambda *_: (print("got SIGTERM", flush=True), sys.exit(0)))
if args.pidfile:
    with open(args.pidfile, "w") as f:
        f.write(str(os.getpid()))
if args.grandchild:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    with open(args.grandchild, "w") as f:
        f.write(str(child.pid))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status = args.ping_status
        if args.hang_when and os.path.exists(args.hang_when):
            time.sleep(60)
        if args.fail_when and os.path.exists(args.fail_when):
            status = 500
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if args.ping_log:
            with open(args.ping_log, "a") as f:
                f.write(f"{status}\n")

    def log_message(self, *a):
        pass


port = int(os.environ["SAGEMAKER_BIND_TO_PORT"])
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
print("serving", flush=True)
server.serve_forever()
