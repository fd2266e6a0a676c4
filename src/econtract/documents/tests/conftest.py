from __future__ import annotations

import pytest

from econtract.documents.samples import make_contract_pdf

CONTRACT_TITLE = "电子合同 Sample Contract"
CONTRACT_PARAGRAPHS = [
    "甲方与乙方根据《中华人民共和国民法典》的规定，在平等、自愿的基础上，就电子合同签署服务达成如下协议。",
    "The parties agree that electronic signatures applied through this platform are binding.",
]


@pytest.fixture(scope="session")
def contract_pdf() -> bytes:
    """A real two-page A4 contract with embedded Chinese text."""
    return make_contract_pdf(CONTRACT_TITLE, CONTRACT_PARAGRAPHS, pages=2)
