"""Phones on other machines: each in its own network namespace with its own address, klapka
listening on every address (0.0.0.0, the default). What reaches a phone names an address
it can send to (the one it used, never 0.0.0.0), so the call is set up and ended through
klapka; a register trunk's provider gets a Contact it can reach.

Skipped with a message where network namespaces cannot be made (not root, no ip command).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pbx4sip import Pbx4Sip, running
from sipp import Sipp, free_udp_port, scenario
from test_calls import PASSWORDS

from klapka.services.pbx import Pbx
from klapka.sip.media_relay import rtpengine_binary
from klapka.sip.supervisor import SipCore

DOC = {
    "version": 1,
    "extensions": [{"number": n, "sip_password": PASSWORDS[n]} for n in ("101", "102")],
}


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Host:
    """A machine of its own: a network namespace joined to this one by a veth pair, the
    PBX's side ``<net>.1``, the host's ``<net>.2``."""

    name: str
    net: str

    @property
    def pbx_side(self) -> str:
        return f"{self.net}.1"

    @property
    def address(self) -> str:
        return f"{self.net}.2"

    def create(self) -> None:
        outside, inside = f"{self.name}o", f"{self.name}i"
        ip("netns", "add", self.name)
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        ip("link", "set", inside, "netns", self.name)
        ip("addr", "add", f"{self.pbx_side}/24", "dev", outside)
        ip("link", "set", outside, "up")
        ns = ("-n", self.name)
        ip(*ns, "addr", "add", f"{self.address}/24", "dev", inside)
        ip(*ns, "link", "set", inside, "up")
        ip(*ns, "link", "set", "lo", "up")
        ip(*ns, "route", "add", "default", "via", self.pbx_side)

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", f"{self.name}o"], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)


@pytest.fixture
def hosts() -> Iterator[tuple[Host, Host]]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and the ip command (iproute2)")
    tag = uuid.uuid4().hex[:4]
    # Addresses of the benchmarking range (RFC 2544), only between this machine and the
    # namespaces made here; not private ones, which klapka would treat as behind NAT (a
    # sipp phone registers from another port than it answers on).
    nets = [f"198.18.{int(tag[:2], 16)}", f"198.19.{int(tag[:2], 16)}"]
    made = [Host(f"kl{tag}{i}", net) for i, net in enumerate(nets)]
    try:
        for host in made:
            host.create()
    except (subprocess.CalledProcessError, OSError) as e:
        for host in made:
            host.remove()
        pytest.skip(f"cannot make network namespaces here: {e}")
    yield made[0], made[1]
    for host in made:
        host.remove()


PUBLIC = "203.0.113.7"  # a documentation address (RFC 5737): klapka behind NAT says it


@pytest.fixture
def everywhere(
    database_url: str, tmp_path: Path, hosts: tuple[Host, Host], request: pytest.FixtureRequest
) -> Iterator[Pbx4Sip]:
    """klapka listening on 0.0.0.0, started after the namespaces exist; with a public
    address when the test is parametrized with one."""
    pbx = Pbx.from_url(database_url)
    port = free_udp_port()
    public = getattr(request, "param", "")
    core = SipCore(pbx, tmp_path / "data", "0.0.0.0", port, port, public_address=public)
    with running(pbx, core, tmp_path / "sipp") as sip:
        yield sip


def listening(netns: str, port: int) -> bool:
    """Whether a UDP socket is bound to ``port`` in the network namespace ``netns``."""
    listed = subprocess.run(
        ["ip", "netns", "exec", netns, "ss", "-H", "-u", "-l", "-n"],
        capture_output=True, text=True, timeout=10,
    )  # fmt: skip
    return any(
        fields[3].endswith(f":{port}")
        for fields in map(str.split, listed.stdout.splitlines())
        if len(fields) > 3
    )


def wait_listening(netns: str, port: int, gone: Callable[[], bool], timeout: float = 5) -> None:
    """Wait (bounded) until something listens on UDP ``port`` in ``netns``; ``gone``:
    whether the program that should listen has ended (then its result tells why)."""
    deadline = time.monotonic() + timeout
    while not listening(netns, port):
        if gone():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing listens on udp/{port} in {netns} after {timeout} s")
        time.sleep(0.05)


def messages(workdir: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(workdir.glob("messages-*.log")))


def route_set(seen: str) -> list[str]:
    """The hosts of the Record-Route set in the first message that has one."""
    for message in seen.split("\n\n"):
        hops = re.findall(r"^Record-Route:(.*)$", message, re.M | re.I)
        if hops:
            return re.findall(r"<sip:([^:;>]+)", " ".join(hops))
    raise AssertionError(f"no Record-Route in {seen}")


def test_phones_on_other_machines_call_each_other_through_klapka_on_every_address(
    everywhere: Pbx4Sip, hosts: tuple[Host, Host], tmp_path: Path
) -> None:
    sip = everywhere
    sip.apply(DOC)
    a, b = hosts
    caller_dir, callee_dir = tmp_path / "a", tmp_path / "b"
    caller_dir.mkdir()
    callee_dir.mkdir()
    caller = Sipp(sip.port, caller_dir, a.address, a.pbx_side, netns=a.name)
    callee = Sipp(sip.port, callee_dir, b.address, b.pbx_side, netns=b.name)
    phone = callee.phone("102", PASSWORDS["102"], "answer")
    try:
        call = caller.call("101", PASSWORDS["101"], "102", expect=200)
        answered = phone.finish()
        assert call.ok, call.output
        assert answered.ok, answered.output
    finally:
        phone.stop()
    seen_by_caller, seen_by_callee = messages(caller_dir), messages(callee_dir)
    for seen in (seen_by_caller, seen_by_callee):
        assert "0.0.0.0" not in seen
        assert "127.0.0.1" not in seen
    # Each phone is told klapka's address on its own network: the route set's hop next to
    # it (klapka record-routes twice, once per address, RFC 3261 16.6 on two interfaces).
    assert route_set(seen_by_callee)[0] == b.pbx_side
    assert route_set(seen_by_caller)[-1] == a.pbx_side
    via = re.findall(r"^Via: SIP/2.0/UDP ([0-9.]+)", seen_by_callee, re.M | re.I)
    assert b.pbx_side in via


REGISTRAR = scenario("""
  <recv request="REGISTER" timeout="20000"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]registrar
      [last_Call-ID:]
      [last_CSeq:]
      [last_Contact:];expires=3600
      Content-Length: 0

  ]]></send>
""")


@pytest.mark.parametrize("everywhere", ["", PUBLIC], indirect=True, ids=["own", "public"])
def test_a_register_trunk_names_the_address_that_reaches_its_provider(
    everywhere: Pbx4Sip, hosts: tuple[Host, Host], tmp_path: Path
) -> None:
    """The provider on the other machine gets a Contact it can send calls to: the address
    of klapka's on the provider's network, or the public address behind NAT."""
    sip = everywhere
    _, provider = hosts
    workdir = tmp_path / "provider"
    workdir.mkdir()
    registrar = Sipp(sip.port, workdir, provider.address, provider.pbx_side, netns=provider.name)
    with ThreadPoolExecutor(1) as pool:
        # The registrar listens on the provider's port 5060 in its own namespace.
        registered = pool.submit(registrar.run, REGISTRAR, "-", "-", 25, 5060)
        # Only then the trunk: a REGISTER sent before sipp listens is lost, and uac sends
        # the next only after 30 s, when sipp has given up waiting.
        wait_listening(provider.name, 5060, registered.done)
        trunk = {"name": "carrier", "type": "register", "host": provider.address,
                 "port": 5060, "username": "530335500", "password": "TrunkSecret1"}  # fmt: skip
        sip.apply({**DOC, "trunks": [trunk]})
        result = registered.result(timeout=40)
    assert result.ok, result.output
    contact = re.findall(r"^Contact:.*$", messages(workdir), re.M | re.I)
    assert contact, messages(workdir)
    public = sip.core.public_address
    assert f"@{public or provider.pbx_side}:{sip.port}" in contact[0]
    via = re.findall(r"^Via: SIP/2.0/UDP ([0-9.]+)", messages(workdir), re.M | re.I)
    assert via and set(via) == {public or provider.pbx_side}


@pytest.fixture
def routed() -> Iterator[None]:
    """This machine forwards between the namespaces: the phones' audio goes straight from
    one to the other (klapka relays the signalling only), as between two networks."""
    path = Path("/proc/sys/net/ipv4/ip_forward")
    before = path.read_text().strip()
    path.write_text("1")
    yield
    path.write_text(before)


@pytest.fixture
def unrouted() -> Iterator[None]:
    """This machine does not forward between the namespaces: phones in them cannot send
    each other audio; only what the media relay (on this machine) relays arrives."""
    path = Path("/proc/sys/net/ipv4/ip_forward")
    before = path.read_text().strip()
    path.write_text("0")
    yield
    path.write_text(before)


def baresip(host: Host, number: str, server: str, port: int, workdir: Path, tone: Path,
            commands: tuple[str, ...] = (), srtp: bool = False) -> subprocess.Popen[bytes]:  # fmt: skip
    """Debian's baresip in ``host``: registers ``number``, answers at once, sends ``tone``
    and records what it hears (sndfile: ``dump-...-dec.wav`` in ``workdir``); ``srtp``:
    its audio only SRTP with SDES keys (``mediaenc=srtp-mand``)."""
    workdir.mkdir()
    (workdir / "config").write_text(
        f"sip_listen {host.address}:5070\nmodule_path /usr/lib/baresip/modules\n"
        "module g711.so\nmodule menu.so\nmodule aufile.so\nmodule sndfile.so\n"
        + ("module srtp.so\n" if srtp else "")
        + f"module_app account.so\naudio_source aufile,{tone}\nsnd_path {workdir}\n"
    )
    (workdir / "accounts").write_text(
        f"<sip:{number}@{server}:{port};transport=udp>;auth_pass={PASSWORDS[number]};"
        "answermode=auto;regint=300" + (";mediaenc=srtp-mand" if srtp else "") + "\n"
    )
    command = ["ip", "netns", "exec", host.name, "baresip", "-f", str(workdir), "-t", "20"]
    for c in commands:
        command += ["-e", c]
    log = (workdir / "log").open("wb")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip-core is not installed")
def test_two_softphones_on_other_machines_talk_through_klapka_on_every_address(
    everywhere: Pbx4Sip, hosts: tuple[Host, Host], tmp_path: Path, routed: None
) -> None:
    """Two baresip phones, each in its own network, register with klapka on 0.0.0.0; 101
    calls 102, who answers; each hears the other's 440 Hz tone; the call ends by BYE."""
    sip = everywhere
    sip.apply({"version": 1, "extensions": [{"number": n, "sip_password": PASSWORDS[n]}
                                            for n in ("101", "102")]})  # fmt: skip
    a, b = hosts
    tone = tmp_path / "tone.wav"
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(tone),
                    "synth", "5", "sine", "440"], check=True, timeout=30)  # fmt: skip
    phones = [baresip(b, "102", b.pbx_side, sip.port, tmp_path / "102", tone)]
    try:
        sip.wait_registered("102")
        phones.append(
            baresip(a, "101", a.pbx_side, sip.port, tmp_path / "101", tone, ("/dial 102",))
        )
        for phone in phones:
            phone.wait(40)
    finally:
        for phone in phones:
            if phone.poll() is None:
                phone.kill()
    for number in ("101", "102"):
        log = (tmp_path / number / "log").read_text(errors="replace")
        assert "Call established" in log, log
        assert "terminated" in log, log
        [heard] = (tmp_path / number).glob("dump-*-dec.wav")
        stat = subprocess.run(["sox", str(heard), "-n", "stat"], capture_output=True,
                              text=True, timeout=30).stderr  # fmt: skip
        length = float(re.search(r"Length \(seconds\):\s+([\d.]+)", stat).group(1))  # type: ignore[union-attr]
        frequency = int(re.search(r"Rough\s+frequency:\s+(\d+)", stat).group(1))  # type: ignore[union-attr]
        assert length > 3, f"{number} heard {length} s"
        assert 400 < frequency < 480, f"{number} heard {frequency} Hz"


@pytest.mark.skipif(
    shutil.which("baresip") is None or rtpengine_binary() is None,
    reason="baresip-core and rtpengine are needed",
)
@pytest.mark.parametrize("case", ["always", "srtp"])
def test_two_softphones_whose_networks_do_not_reach_each_other_talk_through_the_media_relay(
    everywhere: Pbx4Sip, hosts: tuple[Host, Host], tmp_path: Path, unrouted: None, case: str
) -> None:
    """The same two phones, but this machine routes nothing between their networks: their
    audio goes through klapka's media relay, and each still hears the other's tone (440 Hz
    one way, 880 Hz the other). ``always``: ``system.media.anchor: always``. ``srtp``: 102
    is an SRTP extension whose phone takes SRTP only, 101 a plain one: anchored (``auto``)
    because the encryption differs, the relay encrypting one side and not the other."""
    sip = everywhere
    extensions: list[dict[str, Any]] = [{"number": n, "sip_password": PASSWORDS[n]}
                                        for n in ("101", "102")]  # fmt: skip
    if case == "srtp":
        extensions[1]["advanced"] = {"srtp": True}
    system = {"media": {"anchor": "always"}} if case == "always" else {}
    sip.apply({"version": 1, "system": system, "extensions": extensions})
    a, b = hosts
    tones = {}
    for number, hz in (("101", 440), ("102", 880)):
        tones[number] = tmp_path / f"tone{number}.wav"
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(tones[number]),
                        "synth", "5", "sine", str(hz)], check=True, timeout=30)  # fmt: skip
    phones = [baresip(b, "102", b.pbx_side, sip.port, tmp_path / "102", tones["102"],
                      srtp=case == "srtp")]  # fmt: skip
    try:
        sip.wait_registered("102")
        phones.append(baresip(a, "101", a.pbx_side, sip.port, tmp_path / "101", tones["101"],
                              ("/dial 102",)))  # fmt: skip
        for phone in phones:
            phone.wait(40)
    finally:
        for phone in phones:
            if phone.poll() is None:
                phone.kill()
    log = (sip.core.paths.log).read_text(errors="replace")
    assert f"anchored ({case})" in log
    for number, other_hz in (("101", 880), ("102", 440)):
        phone_log = (tmp_path / number / "log").read_text(errors="replace")
        assert "Call established" in phone_log, phone_log
        length, frequency = heard(tmp_path / number)
        assert length > 3, f"{number} heard {length} s"
        assert abs(frequency - other_hz) < 60, f"{number} heard {frequency} Hz"


def heard(workdir: Path) -> tuple[float, int]:
    """How long and at what rough frequency the phone in ``workdir`` heard audio."""
    [dump] = workdir.glob("dump-*-dec.wav")
    stat = subprocess.run(["sox", str(dump), "-n", "stat"], capture_output=True, text=True,
                          timeout=30).stderr  # fmt: skip
    length = float(re.search(r"Length \(seconds\):\s+([\d.]+)", stat).group(1))  # type: ignore[union-attr]
    frequency = int(re.search(r"Rough\s+frequency:\s+(\d+)", stat).group(1))  # type: ignore[union-attr]
    return length, frequency
