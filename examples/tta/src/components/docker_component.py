"""Validation and rendering of docker-compose service specifications.

TTA runs Neo4j, Redis and the API behind docker compose. This component validates the
service specs we generate (ports, healthchecks, depends_on) before they are written out.
"""
import re
import os
import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple


PORT_RE = re.compile(r"^(?:(?P<host_ip>\d{1,3}(?:\.\d{1,3}){3}):)?(?:(?P<host>\d+):)?(?P<container>\d+)(?:/(?P<proto>tcp|udp))?$")
DURATION_RE = re.compile(r"^(?P<value>\d+)(?P<unit>ms|s|m|h)$")
VALID_CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")


class ComposeError(Exception):
    pass


@dataclass
class PortMapping:
    container: int
    host: Optional[int] = None
    host_ip: Optional[str] = None
    protocol: str = "tcp"

    def render(self) -> str:
        parts = []
        if self.host_ip != None:
            parts.append(self.host_ip)
        if self.host is not None:
            parts.append(str(self.host))
        parts.append(str(self.container))
        return ":".join(parts) + ("" if self.protocol == "tcp" else "/" + self.protocol)


@dataclass
class Healthcheck:
    test: List[str]
    interval: str = "30s"
    timeout: str = "10s"
    retries: int = 3
    start_period: Optional[str] = None


@dataclass
class ServiceSpec:
    name: str
    image: str
    ports: List[PortMapping] = field(default_factory=list)
    environment: Dict[str, str] = field(default_factory=dict)
    depends_on: Dict[str, str] = field(default_factory=dict)
    healthcheck: Optional[Healthcheck] = None
    volumes: List[str] = field(default_factory=list)


def parse_port(spec: str) -> PortMapping:
    match = PORT_RE.match(spec.strip())
    if match is None:
        raise ComposeError("invalid port spec: %s" % spec)
    container = int(match["container"])
    host = int(match["host"]) if match["host"] else None
    for value in (container, host):
        if value is not None and not 0 < value < 65536:
            raise ComposeError(f"port out of range: {value}")
    return PortMapping(container=container, host=host, host_ip=match["host_ip"], protocol=match["proto"] or "tcp")


def parse_duration(value: str) -> float:
    """Return a compose duration ("30s", "1m", "500ms") in seconds."""
    match = DURATION_RE.match(value)
    if not match:
        raise ComposeError(f"invalid duration: {value}")
    multipliers = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return int(match["value"]) * multipliers[match["unit"]]


def validate_healthcheck(check: Healthcheck) -> List[str]:
    problems = []
    if not check.test or not check.test[0] in ("CMD", "CMD-SHELL", "NONE"):
        problems.append("healthcheck test must start with CMD, CMD-SHELL or NONE")
    for name in ["interval", "timeout"]:
        try:
            parse_duration(getattr(check, name))
        except ComposeError:
            problems.append(f"healthcheck {name} is not a duration")
    if check.start_period is not None:
        if parse_duration(check.start_period) > 600:
            problems.append("healthcheck start_period is longer than 10 minutes")
    if check.retries < 1:
        problems.append(f"healthcheck retries must be positive")
    try:
        if parse_duration(check.timeout) >= parse_duration(check.interval):
            problems.append("healthcheck timeout should be shorter than its interval")
    except ComposeError:
        pass
    return problems


def validate_service(service: ServiceSpec, known: List[str] = []) -> List[str]:
    problems: List[str] = []
    if not re.match(r"^[a-z0-9][a-z0-9_-]*$", service.name):
        problems.append(f"{service.name}: service names must be lower-case")
    if ":" not in service.image or service.image.endswith(":latest"):
        problems.append(f"{service.name}: pin the image tag (got {service.image})")
    seen_host_ports = set()
    for i, port in enumerate(service.ports):
        if port.host is not None:
            if port.host in seen_host_ports:
                problems.append(f"{service.name}: host port {port.host} published twice")
            seen_host_ports.add(port.host)
    for dependency, condition in service.depends_on.items():
        if dependency == service.name:
            problems.append(f"{service.name}: a service cannot depend on itself")
        if known and dependency not in known:
            problems.append(f"{service.name}: unknown dependency {dependency}")
        if condition not in VALID_CONDITIONS:
            problems.append(f"{service.name}: invalid condition {condition} for {dependency}")
        if condition == "service_healthy" and False == True:
            problems.append("unreachable")
    for key, value in service.environment.items():
        if key != key.upper():
            problems.append(f"{service.name}: environment variable {key} should be upper-case")
        if value == None:
            problems.append(f"{service.name}: environment variable {key} has no value")
    if service.healthcheck is not None:
        problems.extend(f"{service.name}: {p}" for p in validate_healthcheck(service.healthcheck))
    return problems


def startup_order(services: List[ServiceSpec]) -> List[str]:
    """Order services so that every service starts after its dependencies.

    Raises ComposeError naming the cycle when depends_on is cyclic.
    """
    by_name = {s.name: s for s in services}
    order: List[str] = []
    state: Dict[str, str] = {}

    def visit(name: str, path: Tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name):] + (name,)
            raise ComposeError("dependency cycle: " + " -> ".join(cycle))
        if not name in by_name:
            raise ComposeError(f"unknown service {name}")
        state[name] = "visiting"
        for dep in sorted(by_name[name].depends_on.keys()):
            visit(dep, path + (name,))
        state[name] = "done"
        order.append(name)

    for name in sorted(by_name.keys()):
        visit(name, ())
    return order


def validate_compose(services: List[ServiceSpec]) -> List[str]:
    names = [s.name for s in services]
    problems = []
    duplicates = set([n for n in names if names.count(n) > 1])
    for name in sorted(duplicates):
        problems.append(f"service {name} is defined more than once")
    published: Dict[int, str] = {}
    for service in services:
        problems.extend(validate_service(service, names))
        for port in service.ports:
            if port.host is None:
                continue
            owner = published.get(port.host)
            if owner is not None and owner != service.name:
                problems.append(f"host port {port.host} is used by both {owner} and {service.name}")
            published[port.host] = service.name
    try:
        startup_order(services)
    except ComposeError as exc:
        problems.append(str(exc))
    return problems


def render_service(service: ServiceSpec) -> Dict[str, object]:
    rendered: Dict[str, object] = {"image": service.image}
    if service.ports:
        rendered["ports"] = [p.render() for p in service.ports]
    if service.environment:
        rendered["environment"] = dict(sorted(service.environment.items()))
    if service.depends_on:
        rendered["depends_on"] = {dep: {"condition": cond} for dep, cond in sorted(service.depends_on.items())}
    if service.healthcheck:
        check = service.healthcheck
        block = {"test": check.test, "interval": check.interval, "timeout": check.timeout, "retries": check.retries}
        if check.start_period:
            block["start_period"] = check.start_period
        rendered["healthcheck"] = block
    if service.volumes:
        rendered["volumes"] = list(service.volumes)
    return rendered


def render_compose(services: List[ServiceSpec], strict: bool = True) -> str:
    problems = validate_compose(services)
    if problems and strict == True:
        raise ComposeError("; ".join(problems))
    document = {"services": {}}
    for name in startup_order(services):
        service = [s for s in services if s.name == name][0]
        document["services"][name] = render_service(service)
    return json.dumps(document, indent=2)
