"""The address policy (app.netpolicy): checked on resolved addresses, never by sending a packet
anywhere but 127.0.0.0/8. The resolver is injected; the only real connections go to local
servers on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from app.netpolicy import Policy, UrlRefused, check_url, guarded_client, was_refused
from tests.fake_provider import FakeProvider

REFUSED = [
    "127.0.0.1",
    "127.255.0.9",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "224.0.0.1",
    "239.1.1.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
    "2001:0:4136:e378::1",
    "168.63.129.16",
    "100.100.100.200",
    "198.18.0.1",
]
ALLOWED = [
    "8.8.8.8",
    "157.240.1.35",
    "2a03:2880:f12f:83:face:b00c:0:25de",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("ip", REFUSED)
def test_refused_addresses(ip):
    assert Policy().refusal(ip)


@pytest.mark.parametrize("ip", ALLOWED)
def test_public_addresses_allowed(ip):
    assert Policy().refusal(ip) is None


def test_private_networks_setting_opens_only_what_it_names():
    policy = Policy.from_settings("10.0.0.0/8, 127.0.0.0/8", allow_http=False)
    assert policy.refusal("10.9.9.9") is None and policy.refusal("127.0.0.1") is None
    assert policy.refusal("::ffff:10.0.0.1") is None
    assert policy.refusal("192.168.0.1") and policy.refusal("169.254.169.254")
    everything = Policy.from_settings("*", allow_http=False)
    assert everything.refusal("192.168.0.1") is None and everything.refusal("fd12::1") is None
    # Metadata services stay out of reach whatever the setting says.
    assert everything.refusal("169.254.169.254") and Policy.from_settings("169.254.0.0/16", False).refusal(
        "169.254.169.254"
    )


def test_check_url_at_save_time():
    policy = Policy()
    assert check_url(" https://waha.example.com/ ", policy) == "https://waha.example.com/"
    for bad in [
        "http://waha.example.com",
        "ftp://x",
        "https://user:pw@waha.example.com",
        "https://127.0.0.1:3000",
        "https://[::1]/",
        "https://169.254.169.254/latest",
        "https://localhost:8000",
        "javascript:alert(1)",
        "https://x:99999/",
        "http://[::1",
        "",
    ]:
        with pytest.raises(UrlRefused):
            check_url(bad, policy)
    local = Policy.from_settings("127.0.0.0/8", allow_http=True)
    assert check_url("http://127.0.0.1:3000", local) == "http://127.0.0.1:3000"
    with pytest.raises(UrlRefused):
        check_url("http://169.254.169.254", local)


def resolver_to(*addresses):
    asked = []

    async def resolve(host, port):
        asked.append((host, port))
        return list(addresses)

    resolve.asked = asked
    return resolve


async def test_client_checks_the_resolved_address_before_connecting():
    """A public-looking name that resolves to loopback is refused; nothing reaches the server."""
    async with FakeProvider() as fake:
        port = int(fake.url.rsplit(":", 1)[1])
        resolve = resolver_to("127.0.0.1")
        async with guarded_client(Policy(), resolve) as client:
            with pytest.raises(httpx.ConnectError) as caught:
                await client.get(f"http://media.example.com:{port}/health")
        assert was_refused(caught.value) and "127.0.0.1" in was_refused(caught.value)
        assert resolve.asked == [("media.example.com", port)] and fake.requests == []


async def test_one_refused_address_among_several_refuses_the_host():
    resolve = resolver_to("8.8.8.8", "10.0.0.1")
    async with guarded_client(Policy(), resolve) as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await client.get("https://two.example.com/")
    assert "10.0.0.1" in was_refused(caught.value)


async def test_allowed_private_network_connects_to_the_checked_address_and_no_redirect_is_followed():
    def handler(req):
        return 302, {"location": "http://other.example.com/"}, b""

    async with FakeProvider(handler) as fake:
        port = int(fake.url.rsplit(":", 1)[1])
        async with guarded_client(Policy.from_settings("127.0.0.0/8", True), resolver_to("127.0.0.1")) as client:
            r = await client.get(f"http://waha.internal:{port}/api/files/x.jpg")
        assert r.status_code == 302 and [q.path for q in fake.requests] == ["/api/files/x.jpg"]
        assert fake.requests[0].headers["host"] == f"waha.internal:{port}"


async def test_ip_literal_hosts_are_checked_too():
    async with FakeProvider() as fake:
        async with guarded_client(Policy()) as client:
            with pytest.raises(httpx.ConnectError) as caught:
                await client.get(fake.url + "/health")
        assert was_refused(caught.value) and fake.requests == []
