"""Which network addresses the app may connect to on behalf of a payload or a tenant.

Every outbound request whose address comes from a webhook payload or from something a company
admin typed (provider API base URLs, WAHA servers, outbound webhooks, "Check connection") goes
through the client made by :func:`guarded_client`. Its transport resolves the host name itself,
checks **every** resolved address with :func:`refusal` and then connects to the checked address
(so a second DNS answer cannot swap in another one), keeping the name for TLS (SNI and
certificate check). Refused: loopback, private (RFC 1918, IPv6 ULA), link-local, CGNAT
(100.64/10), multicast, reserved and unspecified ranges, cloud metadata addresses, and the
IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64, 6to4) when the address they carry is
refused. An install whose WAHA server or webhook receivers live on a private network lists
those networks in ``PRIVATE_NETWORKS``; metadata addresses stay refused even then.

:func:`check_url` is the save-time half for admin-set URLs: scheme (https unless ``ALLOW_HTTP``),
no user:password part, and an IP literal host checked at once.

What does not live here: which hosts a provider's media may come from (``app.providers.base``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore
import httpx

from app.i18n import N_

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Never reachable, whatever PRIVATE_NETWORKS says: instance metadata services (AWS/GCP/Azure
# link-local, AWS IPv6, Azure wire server, Alibaba) hand out credentials.
METADATA = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.169.254/32",
        "169.254.170.2/32",
        "fd00:ec2::254/128",
        "168.63.129.16/32",
        "100.100.100.200/32",
    )
)
# Refused unless PRIVATE_NETWORKS allows them (``is_global`` covers most; these are explicit so
# that a change in Python's tables cannot open them).
BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
        "2001:db8::/32",
        "100::/64",
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
TEREDO = ipaddress.ip_network("2001::/32")


class AddressRefused(httpcore.ConnectError):
    """The host resolved to an address this install may not connect to."""


class UrlRefused(ValueError):
    """An admin-set URL that the policy refuses; the message says why (shown in forms)."""


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr in NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr.sixtofour is not None:
        return addr.sixtofour
    return None


def parse_networks(text: str) -> tuple[tuple[Network, ...], bool]:
    """``PRIVATE_NETWORKS``: comma-separated CIDRs, or ``*`` for every non-public range."""
    items = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if "*" in items:
        return (), True
    try:
        return tuple(ipaddress.ip_network(p, strict=False) for p in items), False
    except ValueError as exc:
        raise SystemExit(f"PRIVATE_NETWORKS must be CIDR networks separated by commas: {exc}") from exc


@dataclass(frozen=True)
class Policy:
    """What this install allows besides the public internet."""

    private_networks: tuple[Network, ...] = ()
    all_private: bool = False  # PRIVATE_NETWORKS=*
    allow_http: bool = False

    @classmethod
    def from_settings(cls, private_networks: str, allow_http: bool) -> Policy:
        networks, everything = parse_networks(private_networks)
        return cls(networks, everything, allow_http)

    def refusal(self, ip: str) -> str | None:
        """Why ``ip`` (a resolved address) may not be connected to, or None when it may."""
        try:
            addr: IPAddress = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return f"{ip!r} is not an IP address."
        if isinstance(addr, ipaddress.IPv6Address):
            if addr in TEREDO:
                return f"{addr} is a Teredo tunnel address."
            inner = _embedded_ipv4(addr)
            if inner is not None:
                reason = self.refusal(str(inner))
                return f"{addr} carries {inner}: {reason}" if reason else None
        if any(addr in net for net in METADATA):
            return f"{addr} is a cloud metadata address."
        public = addr.is_global and not addr.is_multicast and not any(addr in net for net in BLOCKED)
        if public:
            return None
        if self.all_private and not addr.is_multicast and not addr.is_unspecified:
            return None
        if any(addr.version == net.version and addr in net for net in self.private_networks):
            return None
        return f"{addr} is a loopback, private, link-local or reserved address (see PRIVATE_NETWORKS)."


def refusal(ip: str, policy: Policy | None = None) -> str | None:
    return (policy or Policy()).refusal(ip)


# Why an admin-set URL is refused (fixed sentences, translated where they are shown).
NOT_A_URL = N_("Enter a full address starting with https:// or http://.")
HTTPS_ONLY = N_("Use an https:// address (plain http:// is allowed only when the install sets ALLOW_HTTP).")
NO_USERINFO = N_("The address may not contain a user name or password.")
PRIVATE = N_(
    "This address is on a loopback, private or reserved network, which this install does not allow "
    "(see PRIVATE_NETWORKS)."
)


def check_url(url: str, policy: Policy | None = None) -> str:
    """The admin-set ``url``, stripped, or :class:`UrlRefused` with one of the sentences above.

    Host names are not resolved here (that happens at every connection); an IP literal (or
    localhost) is checked at once so that the admin hears of it when saving."""
    policy = policy or current()
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:  # "http://[::1", "https://x:99999"
        raise UrlRefused(NOT_A_URL) from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UrlRefused(NOT_A_URL)
    if parts.scheme == "http" and not policy.allow_http:
        raise UrlRefused(HTTPS_ONLY)
    if parts.username or parts.password:
        raise UrlRefused(NO_USERINFO)
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return url
    if policy.refusal(host):
        raise UrlRefused(PRIVATE)
    return url


_CURRENT = Policy()


def configure(policy: Policy) -> None:
    """Set this process's policy (``create_app``, from PRIVATE_NETWORKS and ALLOW_HTTP)."""
    global _CURRENT
    _CURRENT = policy


def current() -> Policy:
    return _CURRENT


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


@dataclass
class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that resolves, checks and connects to the checked address."""

    policy: Policy
    resolver: Resolver = system_resolver
    inner: httpcore.AsyncNetworkBackend = field(default_factory=lambda: httpcore.AnyIOBackend())

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self.resolver(host, port), timeout)
        except (TimeoutError, OSError) as exc:
            raise httpcore.ConnectError(f"Could not resolve {host}: {exc.__class__.__name__}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address.")
        for address in addresses:
            reason = self.policy.refusal(address)
            if reason:
                raise AddressRefused(f"{host}: {reason}")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, *args, **kwargs):
        raise AddressRefused("Unix sockets are not reachable through this client.")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(policy: Policy, resolver: Resolver = system_resolver) -> httpx.AsyncHTTPTransport:
    # trust_env=False: an HTTP(S)_PROXY from the environment would make the proxy the checked address.
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    transport._pool._network_backend = GuardedBackend(policy, resolver)
    return transport


def guarded_client(policy: Policy, resolver: Resolver = system_resolver, **kwargs) -> httpx.AsyncClient:
    """The HTTP client for tenant- and payload-chosen addresses: checked addresses, no redirects."""
    kwargs.setdefault("timeout", httpx.Timeout(15.0, connect=5.0))
    return httpx.AsyncClient(
        transport=guarded_transport(policy, resolver),
        trust_env=False,
        follow_redirects=False,
        **kwargs,
    )


def was_refused(exc: BaseException) -> str | None:
    """The policy's reason when ``exc`` (an httpx error) comes from a refused address."""
    seen = exc
    while seen is not None:
        if isinstance(seen, AddressRefused):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return None
