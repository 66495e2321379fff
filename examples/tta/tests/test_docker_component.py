from __future__ import annotations

import pytest

from components.docker_component import ComposeError, PortMapping, parse_port


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("7474", PortMapping(container=7474)),
        ("7474:7474", PortMapping(container=7474, host=7474)),
        ("127.0.0.1:6379:6379", PortMapping(container=6379, host=6379, host_ip="127.0.0.1")),
        ("5353:53/udp", PortMapping(container=53, host=5353, protocol="udp")),
    ],
)
def test_parse_port(spec: str, expected: PortMapping) -> None:
    assert parse_port(spec) == expected


def test_parse_port_rejects_garbage_and_out_of_range() -> None:
    with pytest.raises(ComposeError, match="invalid port spec"):
        parse_port("seven:four")
    with pytest.raises(ComposeError, match="out of range"):
        parse_port("70000:80")
