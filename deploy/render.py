"""Fill in deploy/nginx.conf.template for a set of replicas.

    python deploy/render.py --replica 127.0.0.1:8001 --replica 127.0.0.1:8002 \
        --listen 127.0.0.1:8080 --prefix /srv/chatbot/nginx > /srv/chatbot/nginx/nginx.conf

The prefix folder gets the pid file, logs and nginx's temporary folders (made here).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")


def render(replicas: list[str], listen: str, prefix: Path, api_rate: str = "10r/s", api_burst: int = 20,
           sign_in_rate: str = "10r/m", fail_timeout: str = "5s") -> str:
    if not replicas:
        raise ValueError("give at least one replica (host:port)")
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        folder = prefix / "tmp" / name
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o1777)  # started as root, nginx's workers run as nobody and write here
    upstreams = "\n".join(f"        server {r} max_fails=1 fail_timeout={fail_timeout};" for r in replicas)
    values = {"UPSTREAMS": upstreams, "LISTEN": listen, "PREFIX": str(prefix), "API_RATE": api_rate,
              "API_BURST": str(api_burst), "SIGN_IN_RATE": sign_in_rate}
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    if re.search(r"\{\{[A-Z_]+\}\}", text):
        raise ValueError("the template names a value render() does not fill in")
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replica", action="append", required=True, help="host:port of a replica (repeat)")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="nginx's address (default 127.0.0.1:8080)")
    parser.add_argument("--prefix", type=Path, required=True, help="folder for nginx's pid, logs and temp files")
    parser.add_argument("--api-rate", default="10r/s", help="limit_req rate per client for /api (default 10r/s)")
    parser.add_argument("--api-burst", type=int, default=20)
    args = parser.parse_args()
    sys.stdout.write(render(args.replica, args.listen, args.prefix.resolve(), args.api_rate, args.api_burst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
