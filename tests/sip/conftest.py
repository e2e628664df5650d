"""A real Kamailio, configured and supervised by klapka, for each SIP test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pbx4sip import Pbx4Sip, running
from sipp import SIPP, free_udp_port

from klapka.services.pbx import Pbx
from klapka.sip.supervisor import SipCore, kamailio_binary

pytestmark = pytest.mark.slow

if SIPP is None or kamailio_binary() is None:
    pytest.skip(
        "kamailio and sipp are needed (scripts/setup-env.sh installs them)", allow_module_level=True
    )


@pytest.fixture
def sip(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Pbx4Sip]:
    pbx = Pbx.from_url(database_url)
    port = free_udp_port()
    trace = request.node.get_closest_marker("sip_trace") is not None
    core = SipCore(pbx, tmp_path / "data", "127.0.0.1", port, port, trace=trace)
    with running(pbx, core, tmp_path / "sipp") as sip:
        yield sip
