"""The client's address as every limit and every evidence record sees it.

``REMOTE_ADDR`` is the peer of the socket. Only when that peer is one of ECONTRACT_TRUSTED_PROXIES is
``X-Forwarded-For`` believed, read right to left: each trusted proxy appends the address it saw, so
the first hop from the right that is not a trusted proxy is the client. Anything further left was
written by the client itself and is ignored.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings

from econtract.settings_parsers import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:8080"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: list[Network]) -> bool:
    return any(address.version == network.version and address in network for network in proxies)


def client_address(request: Any) -> str:
    """The address of the client that sent ``request``, as a string ("unknown" without a peer)."""
    meta = request.META
    peer = _address(meta.get("REMOTE_ADDR") or "")
    if peer is None:
        return UNKNOWN
    proxies: list[Network] = settings.ECONTRACT_TRUSTED_PROXIES
    if not proxies or not _trusted(peer, proxies):
        return str(peer)
    hops = (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",")
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # A trusted proxy never writes garbage: the hop left of the last good one is not believed.
            break
        client = address
        if not _trusted(address, proxies):
            break
    return str(client)


def limit_bucket(address: str) -> str:
    """What a per-address limit counts: one IPv4 address, or one IPv6 /64 (a single subscriber's
    network: anyone holding one address of a /64 can use all of them)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
