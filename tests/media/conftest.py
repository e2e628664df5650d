"""The media service under test: a real MediaService (its own asyncio thread and UDP port)
over a migrated database, and the test phone that talks to it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from klapka.media.prompts import Prompts
from klapka.media.service import MediaService
from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx

sys.path.insert(0, str(Path(__file__).parent))

from mailbox_config import data_dir, doc


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


@pytest.fixture(scope="session")
def prompt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The prompts, made with espeak-ng and sox once per session (each test copies them)."""
    root = tmp_path_factory.mktemp("prompts")
    Prompts(root).generate()
    return root


@pytest.fixture
def media(pbx: Pbx, tmp_path: Path, prompt_cache: Path) -> Iterator[MediaService]:
    ConfigService(pbx).apply(doc({"number": "101", "voicemail": {"pin": "4321"}}))
    service = MediaService(pbx, data_dir(tmp_path, prompt_cache), email_backoff=0.5,
                           email_poll=0.3)  # fmt: skip
    service.start()
    yield service
    service.stop()


sys.path.insert(0, str(Path(__file__).parent.parent / "sip"))


@pytest.fixture
def pbx_with_sip(
    pbx: Pbx, tmp_path: Path, prompt_cache: Path
) -> Iterator[tuple[Pbx, Any, MediaService]]:
    """Kamailio (supervised by klapka, as in tests/sip) and the media service, together."""
    from sipp import free_udp_port

    from klapka.sip.supervisor import SipCore, kamailio_binary

    if kamailio_binary() is None:
        pytest.skip("kamailio is needed (scripts/setup-env.sh installs it)")
    port = free_udp_port()
    core = SipCore(pbx, tmp_path / "data", "127.0.0.1", port, port)
    service = MediaService(pbx, data_dir(tmp_path, prompt_cache), email_backoff=0.5,
                           email_poll=0.3)  # fmt: skip
    service.start()
    core.start()
    try:
        assert core.wait_ready(), core.paths.log.read_text() if core.paths.log.exists() else ""
        yield pbx, core, service
    finally:
        core.stop()
        service.stop()


from api_clients import admin_token, client  # noqa: E402  (API fixtures)
from smtp_sink import mailbox  # noqa: E402  (the SMTP sink fixture)

__all__ = ["admin_token", "client", "mailbox"]
