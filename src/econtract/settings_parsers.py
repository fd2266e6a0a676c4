"""Typed readers for ECONTRACT_* environment variables (every setting has a safe default)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return int(raw)


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str) -> list[Network]:
    """Comma-separated addresses or CIDR networks (``10.0.0.0/8,::1``); a typo fails at start."""
    return [ipaddress.ip_network(entry, strict=False) for entry in env_list(name)]


def env_path(name: str, default: str | Path) -> Path:
    return Path(os.environ.get(name) or default).expanduser().resolve()
