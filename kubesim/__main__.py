"""Command line: ``python -m kubesim serve|kubeconfig|token``.

serve       Serve HTTPS until interrupted; creates the CA, serving certificate and
            ``admin.kubeconfig`` in the state directory on first start.
kubeconfig  Write a client-certificate kubeconfig for a user (the server must have
            been started once with this state directory; it reads ``server.url``).
token       Print a ServiceAccount token (the ServiceAccount must exist).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from . import faults as faults_mod
from . import pki, resources


def _parse_rule_scope(text: str) -> tuple[dict, str]:
    """``[verb[,verb]][:resource[,resource]]=VALUE`` -> (scope kwargs, VALUE); a bare VALUE applies to all."""
    if "=" in text:
        scope, value = text.rsplit("=", 1)
    else:
        scope, value = "", text
    verbs, _, res = scope.partition(":")
    kwargs = {}
    if verbs:
        kwargs["verbs"] = tuple(v for v in verbs.split(",") if v and v != "*")
    if res:
        kwargs["resources"] = tuple(r for r in res.split(",") if r and r != "*")
    return kwargs, value


def configure_faults(args) -> faults_mod.FaultInjector:
    """Build the fault injector from the CLI fault flags."""
    fi = faults_mod.FaultInjector(seed=args.fault_seed)
    for spec in args.latency or []:
        scope, value = _parse_rule_scope(spec)
        seconds = float(value[:-2]) / 1000 if value.endswith("ms") else float(value.rstrip("s"))
        fi.add_rule(latency=seconds, **scope)
    for spec in args.error_rate or []:
        scope, value = _parse_rule_scope(spec)
        rate, _, status = value.partition("@")
        fi.add_rule(error_rate=float(rate), status=int(status or 500), retry_after=args.retry_after, **scope)
    for spec in args.fail_next or []:
        scope, value = _parse_rule_scope(spec)
        count, _, status = value.partition("@")
        fi.add_rule(fail_next=int(count), status=int(status or 500), retry_after=args.retry_after, **scope)
    for spec in args.drop_rate or []:
        scope, value = _parse_rule_scope(spec)
        fi.add_rule(error_rate=float(value), drop=True, **scope)
    return fi


def cmd_serve(args) -> int:
    from .testing import KubesimHandle, build

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        server, store, ca, fi, rlog, controllers = build(
            Path(args.state_dir), host=args.host, port=args.port,
            token_file=Path(args.token_file) if args.token_file else None, faults=configure_faults(args))
    except OSError as exc:
        print(f"kubesim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    handle = KubesimHandle(server, Path(args.state_dir), store, ca, fi, rlog, controllers)
    (Path(args.state_dir) / "server.url").write_text(server.url + "\n")
    print(f"kubesim listening on {server.url}", flush=True)
    print(f"admin kubeconfig: {handle.admin_kubeconfig}", flush=True)
    print(f"ca certificate: {ca.ca_path}", flush=True)
    done = threading.Event()

    def _stop(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server.start()
    done.wait()
    handle.stop()
    return 0


def _server_url(state_dir: Path, override: str | None) -> str:
    if override:
        return override
    url_file = state_dir / "server.url"
    if not url_file.exists():
        raise SystemExit(f"kubesim: {url_file} not found; start the server once or pass --server")
    return url_file.read_text().strip()


def cmd_kubeconfig(args) -> int:
    from .testing import write_kubeconfig

    state = Path(args.state_dir)
    ca = pki.CertificateAuthority.load_or_create(state)
    cert, key = ca.issue_client_cert(args.user, args.group or [], args.expiration)
    out = write_kubeconfig(Path(args.out), _server_url(state, args.server), ca.ca_pem, args.user, cert_pem=cert, key_pem=key)
    print(out)
    return 0


def cmd_token(args) -> int:
    from .store import Store

    state = Path(args.state_dir)
    ca = pki.CertificateAuthority.load_or_create(state)
    store = Store(state)
    try:
        sa = store.get(resources.lookup("", "v1", "serviceaccounts"), args.namespace, args.service_account)
    finally:
        store.close()
    if sa is None:
        print(f'Error from server (NotFound): serviceaccounts "{args.service_account}" not found', file=sys.stderr)
        return 1
    print(ca.issue_token(args.namespace, args.service_account, sa["metadata"]["uid"], args.duration))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubesim", description="A Kubernetes API server stand-in.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API over HTTPS")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=6443, help="0 picks a free port")
    serve.add_argument("--state-dir", required=True)
    serve.add_argument("--token-file", help='static tokens, CSV: token,user,uid,"group1,group2"')
    serve.add_argument("--latency", action="append", metavar="[VERBS][:RESOURCES]=SECONDS",
                       help="added latency, e.g. 0.05 or list:namespaces=200ms (repeatable)")
    serve.add_argument("--error-rate", action="append", metavar="[VERBS][:RESOURCES]=RATE[@STATUS]",
                       help="fail a fraction of requests, e.g. create=0.1@503 or 0.05@429 (repeatable)")
    serve.add_argument("--fail-next", action="append", metavar="[VERBS][:RESOURCES]=N[@STATUS]",
                       help="fail the next N matching requests, e.g. write=3@500 (repeatable)")
    serve.add_argument("--drop-rate", action="append", metavar="[VERBS][:RESOURCES]=RATE",
                       help="close the connection without an answer for a fraction of requests")
    serve.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds for 429/503 faults")
    serve.add_argument("--fault-seed", type=int, default=None, help="seed for reproducible error rates")
    serve.add_argument("-v", "--verbose", action="store_true")
    serve.set_defaults(func=cmd_serve)

    kc = sub.add_parser("kubeconfig", help="write a client-certificate kubeconfig")
    kc.add_argument("--state-dir", required=True)
    kc.add_argument("--user", required=True)
    kc.add_argument("--group", action="append")
    kc.add_argument("--out", required=True)
    kc.add_argument("--server", help="server URL (default: the one recorded by the last serve)")
    kc.add_argument("--expiration", type=int, default=365 * 86400, help="certificate lifetime in seconds")
    kc.set_defaults(func=cmd_kubeconfig)

    tok = sub.add_parser("token", help="print a ServiceAccount token")
    tok.add_argument("--state-dir", required=True)
    tok.add_argument("--namespace", "-n", required=True)
    tok.add_argument("--service-account", required=True)
    tok.add_argument("--duration", type=int, default=24 * 3600, help="token lifetime in seconds")
    tok.set_defaults(func=cmd_token)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
