#!/usr/bin/env python3
"""kubectl-portal: the platform portal from the terminal, as a kubectl plugin (``kubectl portal ...``).

Any executable named ``kubectl-portal`` on the PATH is the ``kubectl portal``
command. The whole plugin is this one file; it needs only the Python standard
library, ``cryptography`` (the kubeconfig key is made here and never leaves
this machine) and ``PyYAML`` (kubeconfigs). Install: ``pip install ./cli`` from
the portal's repository, or copy this file onto the PATH as ``kubectl-portal``
(``chmod +x``; ``pip install cryptography PyYAML``).

Exit codes: 0 ok, 1 refused (the portal's message is printed), 2 usage.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

__version__ = "0.1.0"

OK, REFUSED, USAGE = 0, 1, 2
TERMINAL_PHASES = {"Ready", "Failed", "Deleted"}


class Refused(Exception):
    """The portal (or this machine) said no; the message is printed and the exit code is 1."""


# --- configuration ----------------------------------------------------------------------------------


def config_path() -> Path:
    if os.environ.get("KUBECTL_PORTAL_CONFIG"):
        return Path(os.environ["KUBECTL_PORTAL_CONFIG"])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "kubectl-portal" / "config.json"


def load_config() -> dict:
    path = config_path()
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise Refused("not logged in: run `kubectl portal login --url https://<portal>` first") from None
    except (OSError, ValueError) as exc:
        raise Refused(f"cannot read {path}: {exc}; run `kubectl portal login` again") from None
    if not config.get("url") or not config.get("token"):
        raise Refused("not logged in: run `kubectl portal login --url https://<portal>` first")
    return config


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (mode 0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- the portal's REST API --------------------------------------------------------------------------


def api_message(status: int, body: bytes) -> str:
    """The portal's error, as it says it: ``detail``, or ``field: message`` for each field."""
    try:
        data = json.loads(body)
    except ValueError:
        return f"HTTP {status}: {body[:200].decode(errors='replace')}"
    if isinstance(data, dict):
        if "detail" in data and len(data) <= 2:
            return str(data["detail"])
        parts = []
        for field, messages in data.items():
            messages = messages if isinstance(messages, list) else [messages]
            for message in messages:
                parts.append(str(message) if field in ("non_field_errors", "detail") else f"{field}: {message}")
        return "; ".join(parts)
    return str(data)


class Portal:
    def __init__(self, url: str, token: str, timeout: float = 30):
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout

    @classmethod
    def from_config(cls) -> Portal:
        config = load_config()
        return cls(config["url"], config["token"])

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None, retries: int = 0):
        """One API call; 5xx and connection errors are retried ``retries`` times (the same request, same headers)."""
        url = path if path.startswith("http") else f"{self.url}{path}"
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Authorization": f"Token {self.token}", "Accept": "application/json",
                       "User-Agent": f"kubectl-portal/{__version__}", **(headers or {})}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        for attempt in range(retries + 1):
            request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    payload = response.read()
                    return json.loads(payload) if payload else None
            except urllib.error.HTTPError as exc:
                message = api_message(exc.code, exc.read())
                if exc.code >= 500 and attempt < retries:
                    time.sleep(min(2 ** attempt, 5))
                    continue
                if exc.code == 401:
                    raise Refused(f"{message} (run `kubectl portal login` again)") from None
                raise Refused(message) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt < retries:
                    time.sleep(min(2 ** attempt, 5))
                    continue
                reason = getattr(exc, "reason", exc)
                raise Refused(f"cannot reach the portal at {self.url}: {reason}") from None
        raise AssertionError("unreachable")

    def all_pages(self, path: str) -> list:
        results, url = [], path
        while url:
            page = self.call("GET", url)
            if isinstance(page, list):
                return page
            results.extend(page["results"])
            url = page.get("next")
        return results

    def namespace(self, name: str, cluster: str | None) -> dict:
        """The namespace called ``name`` (on ``cluster``) among the caller's live ones."""
        query = urllib.parse.urlencode({"name": name, **({"cluster": cluster} if cluster else {})})
        found = [ns for ns in self.all_pages(f"/api/v1/namespaces/?{query}") if ns["name"] == name and ns["phase"] != "Deleted"]
        if not found:
            raise Refused(f'no namespace "{name}"{f" on cluster {cluster}" if cluster else ""} among yours '
                          "(see `kubectl portal namespaces`)")
        if len(found) > 1:
            raise Refused(f'"{name}" exists on clusters {", ".join(sorted(ns["cluster"] for ns in found))}: add --cluster')
        return found[0]


# --- output -------------------------------------------------------------------------------------------


def emit(args, data, columns: list[tuple[str, object]] | None = None) -> None:
    """Print ``data`` as JSON, YAML or a table (``columns``: header and a function of a row)."""
    if args.output == "json":
        print(json.dumps(data, indent=2, sort_keys=False))
    elif args.output == "yaml":
        import yaml

        print(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), end="")
    elif columns is None:
        for key, value in (data or {}).items():
            print(f"{key}: {value}")
    else:
        rows = data if isinstance(data, list) else [data]
        table = [[header for header, _ in columns]] + [[str(get(row)) for _, get in columns] for row in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
        for row in table:
            print("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def quota_summary(ns: dict) -> str:
    used, hard = ns.get("quota_used") or {}, ns.get("quota") or {}
    shown = [r for r in ("requests.cpu", "requests.memory", "pods") if r in hard] or sorted(hard)[:3]
    return ", ".join(f"{r.removeprefix('requests.')} {used.get(r, '-')}/{hard[r]}" for r in shown) or "-"


def expiry(ns: dict) -> str:
    if not ns.get("expires_at"):
        return "never"
    if ns.get("protected"):
        return "protected"
    at = parse_time(ns["expires_at"])
    left = at - time.time()
    if left <= 0:
        return "expired"
    hours = int(left // 3600)
    return f"in {hours // 24}d{hours % 24}h" if hours >= 24 else f"in {hours}h{int(left % 3600 // 60)}m"


def parse_time(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def parse_hours(text: str, flag: str) -> int:
    """``72h``, ``3d`` or ``72`` -> hours."""
    match = re.fullmatch(r"\s*(\d+)\s*([hd]?)\s*", text or "")
    if not match or int(match.group(1)) < 1:
        raise argparse.ArgumentTypeError(f"{flag}: give a duration like 72h or 3d")
    return int(match.group(1)) * (24 if match.group(2) == "d" else 1)


def parse_quota(text: str) -> dict:
    quota = {}
    for part in (text or "").split(","):
        resource, sep, value = part.partition("=")
        if not sep or not resource.strip() or not value.strip():
            raise argparse.ArgumentTypeError(f"--quota: '{part}' is not resource=value (e.g. requests.cpu=1,limits.memory=2Gi)")
        quota[resource.strip()] = value.strip()
    return quota


NAMESPACE_COLUMNS = [("NAME", lambda n: n["name"]), ("TEAM", lambda n: n["team"]), ("CLUSTER", lambda n: n["cluster"]),
                     ("PHASE", lambda n: n["phase"]), ("QUOTA (used/hard)", quota_summary), ("EXPIRES", expiry)]
REQUEST_COLUMNS = [("ID", lambda r: r["id"]), ("KIND", lambda r: r["kind"]), ("STATE", lambda r: r["state"]),
                   ("TEAM", lambda r: r["team"]), ("NAME", lambda r: r.get("name") or "-"), ("REQUESTER", lambda r: r["requester"]),
                   ("CREATED", lambda r: r["created_at"][:16].replace("T", " "))]


# --- commands -----------------------------------------------------------------------------------------


def cmd_login(args) -> int:
    url = args.url.rstrip("/")
    if not re.match(r"^https?://", url):
        raise Refused("--url must start with https:// (or http:// for a local portal)")
    if args.token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = getpass.getpass(f"API token (make one at {url}/account/tokens/): ").strip()
    if not token:
        raise Refused("no token given")
    me = Portal(url, token).call("GET", "/api/v1/me/")
    write_private(config_path(), json.dumps({"url": url, "token": token}))
    print(f"Logged in to {url} as {me['username']}; the token is in {config_path()} (mode 0600).")
    return OK


def cmd_logout(args) -> int:
    path = config_path()
    path.unlink(missing_ok=True)
    print(f"Logged out (removed {path}). The token itself stays valid until it expires or you revoke it in the portal.")
    return OK


def cmd_whoami(args) -> int:
    portal = Portal.from_config()
    me = portal.call("GET", "/api/v1/me/")
    if args.output == "table":
        teams = ", ".join(f"{t['team']} ({t['role']})" for t in me["teams"]) or "none"
        print(f"{me['username']} at {portal.url}\nplatform role: {me['platform_role'] or 'none'}\n"
              f"cluster identity: {me['cluster_identity']}\nteams: {teams}")
    else:
        emit(args, me)
    return OK


def cmd_namespaces(args) -> int:
    portal = Portal.from_config()
    query = urllib.parse.urlencode({k: v for k, v in (("team", args.team), ("cluster", args.cluster)) if v})
    rows = [ns for ns in portal.all_pages(f"/api/v1/namespaces/?{query}") if ns["phase"] != "Deleted"]
    if args.output == "table" and not rows:
        print("No namespaces. Ask for one: kubectl portal request namespace NAME --team T --cluster C")
        return OK
    emit(args, rows, NAMESPACE_COLUMNS)
    return OK


def cmd_namespace(args) -> int:
    portal = Portal.from_config()
    ns = portal.namespace(args.name, args.cluster)
    query = urllib.parse.urlencode({"namespace": ns["name"], "cluster": ns["cluster"], "state": "open"})
    violations = portal.all_pages(f"/api/v1/violations/?{query}")
    if args.output != "table":
        emit(args, {**ns, "violations": violations})
        return OK
    print(f"Name:       {ns['name']}\nCluster:    {ns['cluster']}\nTeam:       {ns['team']}\nPhase:      {ns['phase']}")
    if ns.get("last_error"):
        print(f"Last error: {ns['last_error']}")
    print(f"Expires:    {expiry(ns)}{'' if not ns.get('expires_at') else ' (' + ns['expires_at'] + ')'}")
    print(f"Pod security: {ns['pod_security_level']}\nQuota:")
    for resource, hard in sorted((ns.get("quota") or {}).items()):
        print(f"  {resource:<18} {(ns.get('quota_used') or {}).get(resource, '-'):>8} / {hard}")
    print(f"Open policy violations: {len(violations)}")
    for v in violations[:20]:
        print(f"  {v.get('policy')}: {v.get('object_kind')}/{v.get('object_name')}: {v.get('message')}")
    return OK


def _follow(portal: Portal, request: dict, timeout: float) -> int:
    """Print the request's progress until its namespace is Ready (0) or it is rejected or fails (1)."""
    deadline, last = time.monotonic() + timeout, None
    while True:
        current = portal.call("GET", f"/api/v1/requests/{request['id']}/")
        namespace = None
        if current.get("namespace"):
            namespace = portal.call("GET", f"/api/v1/namespaces/{current['namespace']}/")
        status = (current["state"], namespace["phase"] if namespace else None)
        if status != last:
            line = f"request #{current['id']}: {current['state']}"
            if current.get("decided_by_rule") and current["state"] != "submitted":
                line += f" (rule {current['decided_by_rule']})"
            elif current.get("decider"):
                line += f" by {current['decider']}"
            if namespace:
                line += f"; namespace {namespace['name']}: {namespace['phase']}"
                if namespace.get("last_error"):
                    line += f" ({namespace['last_error']})"
            print(line, flush=True)
            last = status
        if current["state"] in ("rejected", "cancelled"):
            raise Refused(f"request #{current['id']} was {current['state']}" + (f": {current['reason']}" if current.get("reason") else ""))
        if current["state"] == "failed" or (namespace and namespace["phase"] == "Failed"):
            raise Refused(f"request #{current['id']} failed: {(namespace or {}).get('last_error') or current.get('last_error')}")
        if namespace and namespace["phase"] == "Ready":
            return OK
        if time.monotonic() > deadline:
            raise Refused(f"still {current['state']} after {timeout:.0f} s; follow it with `kubectl portal requests`")
        time.sleep(0.25 if current["state"] != "submitted" else 1.0)


def cmd_request_namespace(args) -> int:
    portal = Portal.from_config()
    body = {"cluster": args.cluster, "team": args.team, "name": args.name, "purpose": args.purpose or ""}
    if args.tier:
        body["tier"] = args.tier
    if args.quota:
        body["quota"] = args.quota
    if args.ttl:
        body["ttl_hours"] = args.ttl
    # One key per command: a retry after a lost answer returns the same request, never a second one.
    key = f"kubectl-portal-{uuid.uuid4()}"
    created = portal.call("POST", "/api/v1/namespace-requests/", body, headers={"Idempotency-Key": key}, retries=3)
    if not args.wait:
        emit(args, created, REQUEST_COLUMNS)
        return OK
    print(f"request #{created['id']} submitted for namespace {args.name} on {args.cluster}", flush=True)
    return _follow(portal, created, args.timeout)


def cmd_requests(args) -> int:
    portal = Portal.from_config()
    query = "?state=submitted" if args.pending else ""
    rows = portal.all_pages(f"/api/v1/requests/{query}")
    if args.output == "table" and not rows:
        print("No requests waiting." if args.pending else "No requests.")
        return OK
    emit(args, rows, REQUEST_COLUMNS)
    return OK


def _decide(args, verdict: str) -> int:
    portal = Portal.from_config()
    decided = portal.call("POST", f"/api/v1/requests/{args.id}/{verdict}/", {"reason": args.reason or ""})
    if args.output == "table":
        print(f"request #{decided['id']} {decided['state']}")
    else:
        emit(args, decided)
    return OK


def make_key_and_csr(identity: str) -> tuple[bytes, str]:
    """A new EC P-256 key (PEM, kept here) and a CSR for it with CN = the cluster identity."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)]))
           .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM).decode()


def kubeconfig_target() -> Path:
    """The file ``kubectl config`` writes to: the first entry of KUBECONFIG, else ~/.kube/config."""
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(paths[0]) if paths else Path.home() / ".kube" / "config"


def merge_kubeconfig(existing: dict, new: dict) -> dict:
    """``new``'s cluster, user and context into ``existing`` (same names replaced), current-context = new's."""
    merged = dict(existing or {})
    merged.setdefault("apiVersion", "v1")
    merged.setdefault("kind", "Config")
    for section in ("clusters", "users", "contexts"):
        incoming = {item["name"]: item for item in new.get(section, [])}
        kept = [item for item in (merged.get(section) or []) if item.get("name") not in incoming]
        merged[section] = kept + list(incoming.values())
    merged["current-context"] = new["current-context"]
    return merged


def cmd_kubeconfig(args) -> int:
    import yaml

    portal = Portal.from_config()
    ns = portal.namespace(args.namespace, args.cluster)
    me = portal.call("GET", "/api/v1/me/")
    key_pem, csr_pem = make_key_and_csr(me["cluster_identity"])
    body = {"cluster": ns["cluster"], "namespace": ns["name"], "csr": csr_pem, "reason": "kubectl portal kubeconfig"}
    if args.lifetime:
        body["expiration_seconds"] = args.lifetime * 3600
    issued = portal.call("POST", "/api/v1/kubeconfigs/", body)
    config = yaml.safe_load(issued["kubeconfig"])
    for user in config.get("users", []):
        user.setdefault("user", {})["client-key-data"] = base64.b64encode(key_pem).decode()
    context = config["current-context"]
    if args.file:
        write_private(Path(args.file), yaml.safe_dump(config, sort_keys=False))
        where = args.file
    else:
        target = kubeconfig_target()
        existing = yaml.safe_load(target.read_text()) if target.exists() else {}
        write_private(target, yaml.safe_dump(merge_kubeconfig(existing or {}, config), sort_keys=False))
        where = str(target)
    summary = {"context": context, "file": where, "namespace": ns["name"], "cluster": ns["cluster"],
               "expires": issued.get("not_after"), "serial": issued.get("serial")}
    if args.output == "table":
        switched = "" if args.file else f"; switched to it (kubectl config use-context {context})"
        print(f"Context {context} written to {where}{switched}. Certificate expires {issued.get('not_after')}.\n"
              f"The private key was made on this machine and is only in that file.")
    else:
        emit(args, summary)
    return OK


def cmd_quota(args) -> int:
    portal = Portal.from_config()
    ns = portal.namespace(args.namespace, args.cluster)
    if not args.set and not args.tier:
        rows = [{"resource": r, "used": (ns.get("quota_used") or {}).get(r, "-"), "hard": h} for r, h in sorted(ns["quota"].items())]
        emit(args, rows, [("RESOURCE", lambda r: r["resource"]), ("USED", lambda r: r["used"]), ("HARD", lambda r: r["hard"])])
        return OK
    body = {"namespace": ns["id"], "reason": args.reason or ""}
    if args.tier:
        body["tier"] = args.tier
    else:
        body["quota"] = {**ns["quota"], **args.set}
    created = portal.call("POST", "/api/v1/quota-requests/", body, headers={"Idempotency-Key": f"kubectl-portal-{uuid.uuid4()}"},
                          retries=3)
    if args.output == "table":
        print(f"quota change request #{created['id']}: {created['state']}"
              + (f" (rule {created['decided_by_rule']})" if created.get("decided_by_rule") else "; a manager of the team decides"))
    else:
        emit(args, created)
    return OK


def cmd_extend(args) -> int:
    portal = Portal.from_config()
    ns = portal.namespace(args.namespace, args.cluster)
    created = portal.call("POST", f"/api/v1/namespaces/{ns['id']}/extend/", {"ttl_hours": args.ttl, "reason": args.reason or ""},
                          headers={"Idempotency-Key": f"kubectl-portal-{uuid.uuid4()}"}, retries=3)
    if args.output == "table":
        print(f"extension request #{created['id']}: {created['state']}"
              + (f" (rule {created['decided_by_rule']})" if created.get("decided_by_rule") else "; a manager of the team decides"))
    else:
        emit(args, created)
    return OK


# --- the command line ------------------------------------------------------------------------------------


def hours_arg(flag: str):
    return lambda text: parse_hours(text, flag)


def build_parser() -> argparse.ArgumentParser:
    # -o works before or after the command: the subcommands' copy leaves the value alone unless given.
    top = argparse.ArgumentParser(add_help=False)
    top.add_argument("-o", "--output", choices=["table", "json", "yaml"], default="table", help="output format (default table)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-o", "--output", choices=["table", "json", "yaml"], default=argparse.SUPPRESS, help="output format")
    parser = argparse.ArgumentParser(prog="kubectl portal", description="The platform portal from the terminal.", parents=[top])
    parser.add_argument("--version", action="version", version=f"kubectl-portal {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("login", parents=[common], help="store the portal's URL and your API token")
    p.add_argument("--url", required=True, help="the portal's address, e.g. https://portal.example.com")
    p.add_argument("--token-stdin", action="store_true", help="read the token from standard input instead of prompting")
    p.set_defaults(run=cmd_login)
    sub.add_parser("logout", parents=[common], help="forget the stored token").set_defaults(run=cmd_logout)
    sub.add_parser("whoami", parents=[common], help="who the stored token is").set_defaults(run=cmd_whoami)

    p = sub.add_parser("namespaces", parents=[common], help="your namespaces: phase, quota used/hard, expiry")
    p.add_argument("--team")
    p.add_argument("--cluster")
    p.set_defaults(run=cmd_namespaces)
    p = sub.add_parser("namespace", parents=[common], help="one namespace in detail, with its open policy violations")
    p.add_argument("name")
    p.add_argument("--cluster")
    p.set_defaults(run=cmd_namespace)

    p = sub.add_parser("request", parents=[common], help="ask for something")
    what = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    p = what.add_parser("namespace", parents=[common], help="ask for a namespace")
    p.add_argument("name")
    p.add_argument("--team", required=True)
    p.add_argument("--cluster", required=True)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--tier", help="a quota tier (small, medium, ...)")
    group.add_argument("--quota", type=parse_quota, help="requests.cpu=1,limits.memory=2Gi,...")
    p.add_argument("--ttl", type=hours_arg("--ttl"), help="delete it after this long, e.g. 72h or 7d")
    p.add_argument("--purpose", help="what it is for")
    p.add_argument("--wait", action="store_true", help="follow the request until the namespace is Ready (or refused)")
    p.add_argument("--timeout", type=float, default=600, help="seconds --wait waits at most (default 600)")
    p.set_defaults(run=cmd_request_namespace)

    p = sub.add_parser("requests", parents=[common], help="requests you can see (managers: your teams')")
    p.add_argument("--pending", action="store_true", help="only those waiting for a decision")
    p.set_defaults(run=cmd_requests)
    p = sub.add_parser("approve", parents=[common], help="approve a request (managers)")
    p.add_argument("id", type=int)
    p.add_argument("--reason")
    p.set_defaults(run=lambda args: _decide(args, "approve"))
    p = sub.add_parser("reject", parents=[common], help="reject a request (managers)")
    p.add_argument("id", type=int)
    p.add_argument("--reason", required=True, help="shown to the requester")
    p.set_defaults(run=lambda args: _decide(args, "reject"))

    p = sub.add_parser("kubeconfig", parents=[common], help="a kubeconfig for a namespace (key made here, never sent)")
    p.add_argument("namespace")
    p.add_argument("--cluster")
    p.add_argument("--lifetime", type=hours_arg("--lifetime"), help="certificate lifetime, e.g. 24h (capped by the portal)")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--merge", action="store_true", help="merge into your kubeconfig (KUBECONFIG or ~/.kube/config; the default)")
    target.add_argument("--file", help="write a separate kubeconfig file (mode 0600)")
    p.set_defaults(run=cmd_kubeconfig)

    p = sub.add_parser("quota", parents=[common], help="a namespace's quota; --set or --tier asks to change it")
    p.add_argument("namespace")
    p.add_argument("--cluster")
    change = p.add_mutually_exclusive_group()
    change.add_argument("--set", type=parse_quota, help="resource=value,... (the rest stays as it is)")
    change.add_argument("--tier")
    p.add_argument("--reason")
    p.set_defaults(run=cmd_quota)
    p = sub.add_parser("extend", parents=[common], help="ask for a namespace to live longer")
    p.add_argument("namespace")
    p.add_argument("--cluster")
    p.add_argument("--ttl", type=hours_arg("--ttl"), required=True, help="from now, e.g. 72h or 7d")
    p.add_argument("--reason")
    p.set_defaults(run=cmd_extend)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return REFUSED
    except KeyboardInterrupt:
        return REFUSED


if __name__ == "__main__":
    sys.exit(main())
