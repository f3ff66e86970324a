"""Client IP handling: which address is the client's, and its anonymised form.

Anonymisation zeroes the host bits (IPv4 keeps /24, IPv6 /48 by default) so the stored address
names a neighbourhood, not a household. It happens before anything is stored or logged; the full
address is only ever used in memory for the GeoIP lookup.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache


@lru_cache(maxsize=4096)  # every event of a request, and a visitor's requests, share one IP
def anonymise_ip(ip: str | None, ipv4_prefix: int = 24, ipv6_prefix: int = 48) -> str | None:
    """``ip`` with all but the first ``ipv4_prefix`` / ``ipv6_prefix`` bits zeroed.

    IPv4-mapped IPv6 addresses (``::ffff:1.2.3.4``, what a dual-stack socket reports) are
    treated as the IPv4 address they carry. Anything that is not an IP address gives None.

    >>> anonymise_ip("81.2.69.142")
    '81.2.69.0'
    >>> anonymise_ip("2001:db8:abcd:12::1")
    '2001:db8:abcd::'
    """
    address = parse_ip(ip)
    if address is None:
        return None
    prefix = ipv4_prefix if address.version == 4 else ipv6_prefix
    network = ipaddress.ip_network(f"{address}/{max(0, min(prefix, address.max_prefixlen))}",
                                   strict=False)
    return str(network.network_address)


def parse_ip(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in ``ip`` (IPv4-mapped IPv6 unwrapped, zone ids dropped), or None."""
    if not ip or len(ip) > 64:
        return None
    text = ip.strip().split("%", 1)[0]
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip(remote_addr: str | None, forwarded_for: str | None,
              trusted_proxies: int) -> str | None:
    """The client's address behind ``trusted_proxies`` reverse proxies.

    Each trusted proxy appends the address it saw to ``X-Forwarded-For``, so the client is the
    ``trusted_proxies``-th entry from the right; entries further left are whatever the client
    claimed and are not believed. With no trusted proxy the socket address is the client.

    >>> client_ip("10.0.0.2", "1.2.3.4, 81.2.69.142", 1)
    '81.2.69.142'
    >>> client_ip("10.0.0.2", "1.2.3.4, 81.2.69.142", 0)
    '10.0.0.2'
    """
    if trusted_proxies <= 0 or not forwarded_for:
        return remote_addr
    hops = [hop.strip()[:64] for hop in forwarded_for.split(",") if hop.strip()]
    if len(hops) < trusted_proxies:
        return hops[0] if hops else remote_addr
    return hops[-trusted_proxies]
