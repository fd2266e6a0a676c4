"""econtract: an electronic contract platform."""

__version__ = "0.1.0"
