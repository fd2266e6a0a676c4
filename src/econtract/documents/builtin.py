"""The built-in templates offered to every organisation: sales contract, NDA, labour contract and
announcement, in Chinese and English (``builtin_templates/<slug>.html`` and ``catalog.json``).

:func:`install_builtin_templates` makes the built-in ``Template`` rows (``organization`` null) match
the files: it creates the missing ones and updates those whose text changed, and leaves every
organisation's template alone. A built-in row whose slug left the catalogue is kept (documents made
from it point at it). The HTML passes the same door as any template (``clean_document_html``, then
``template_spec``), so what is stored is what a user would have got by uploading the file.

:func:`sample_values` gives realistic values for every variable of a template, for tests and demos.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from econtract.documents.authoring import clean_document_html
from econtract.documents.models import DocumentKind, Template
from econtract.documents.templating import template_spec

TEMPLATES_DIR = Path(__file__).resolve().parent / "builtin_templates"
CATALOG_PATH = TEMPLATES_DIR / "catalog.json"
LANGUAGES = ("zh-hans", "en")
MAX_TEMPLATE_FILE_BYTES = 20 * 1024


@dataclass(frozen=True)
class BuiltinTemplate:
    """One entry of the catalogue with its cleaned HTML and what the placeholders ask for."""

    slug: str
    title: str
    kind: str
    language: str
    description: str
    html: str
    variables: list[dict[str, Any]]
    fields: list[dict[str, str]]

    def row_values(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "kind": self.kind,
            "language": self.language,
            "description": self.description,
            "html": self.html,
            "variables": self.variables,
            "fields": self.fields,
        }


def catalog() -> dict[str, dict[str, str]]:
    """slug → title, kind, language, description, as written in ``catalog.json``."""
    entries: dict[str, dict[str, str]] = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return entries


def load_builtin(slug: str, entry: dict[str, str] | None = None) -> BuiltinTemplate:
    """The catalogue entry ``slug`` read from its file; ValueError if the entry or the file is wrong."""
    entry = entry if entry is not None else catalog()[slug]
    if entry["kind"] not in DocumentKind.values:
        raise ValueError(f"built-in template {slug!r}: unknown kind {entry['kind']!r}")
    if entry["language"] not in LANGUAGES:
        raise ValueError(f"built-in template {slug!r}: unknown language {entry['language']!r}")
    raw = (TEMPLATES_DIR / f"{slug}.html").read_bytes()
    if len(raw) > MAX_TEMPLATE_FILE_BYTES:
        raise ValueError(f"built-in template {slug!r} is larger than {MAX_TEMPLATE_FILE_BYTES} bytes")
    html = clean_document_html(raw.decode("utf-8"))
    variables, fields = template_spec(html)
    return BuiltinTemplate(
        slug=slug,
        title=entry["title"],
        kind=entry["kind"],
        language=entry["language"],
        description=entry["description"],
        html=html,
        variables=variables,
        fields=fields,
    )


@functools.cache
def load_builtins() -> list[BuiltinTemplate]:
    return [load_builtin(slug, entry) for slug, entry in catalog().items()]


def install_builtin_templates() -> int:
    """Create or update the built-in template rows from the files; how many rows were created or changed.

    Idempotent: a second run changes nothing and returns 0. All files are read and checked before
    the first row is written, so a broken file leaves the database as it was.
    """
    wanted = load_builtins()
    changed = 0
    with transaction.atomic():
        existing = {
            t.slug: t
            for t in Template.objects.select_for_update().filter(
                organization__isnull=True, slug__in=[b.slug for b in wanted]
            )
        }
        for builtin in wanted:
            values = builtin.row_values()
            row = existing.get(builtin.slug)
            if row is None:
                Template.objects.create(organization=None, slug=builtin.slug, **values)
                changed += 1
                continue
            differing = [name for name, value in values.items() if getattr(row, name) != value]
            if differing:
                for name in differing:
                    setattr(row, name, values[name])
                row.save(update_fields=[*differing, "updated_at"])
                changed += 1
    return changed


# --- sample values ----------------------------------------------------------------------------------

_SELLER_ZH = {
    "organization": "上海澄明精密机械有限公司",
    "uscc": "91310115MA1H8K2X3R",
    "legal_representative": "王建国",
    "address": "上海市浦东新区张江路1288号3幢501室",
    "phone": "021-5080 1234",
    "email": "sales@chengming-machinery.cn",
}
_BUYER_ZH = {
    "organization": "苏州恒远智能装备股份有限公司",
    "uscc": "91320594MA1NQ7T56D",
    "legal_representative": "李秀英",
    "address": "江苏省苏州市工业园区星湖街328号",
    "phone": "0512-6288 5678",
    "email": "purchasing@hengyuan-zn.com",
}
_SELLER_EN = {
    "organization": "Shanghai Chengming Precision Machinery Co., Ltd.",
    "uscc": "91310115MA1H8K2X3R",
    "legal_representative": "Wang Jianguo, Legal Representative",
    "address": "Room 501, Building 3, 1288 Zhangjiang Road, Pudong New Area, Shanghai 201203, China",
    "phone": "+86 21 5080 1234",
    "email": "sales@chengming-machinery.cn",
}
_BUYER_EN = {
    "organization": "Nordhafen Automation GmbH",
    "uscc": "HRB 123456 (Amtsgericht Hamburg)",
    "legal_representative": "Dr. Katrin Vogel, Managing Director",
    "address": "Am Sandtorkai 41, 20457 Hamburg, Germany",
    "phone": "+49 40 3090 1200",
    "email": "procurement@nordhafen-automation.de",
}
_DISPUTE_SHANGHAI = "提交上海国际仲裁中心按照申请仲裁时该中心现行有效的仲裁规则进行仲裁"

_SAMPLES: dict[str, dict[str, Any]] = {
    "sales-contract-zh": {
        "contract_number": "CM-XS-2026-0158",
        "signing_place": "上海市浦东新区",
        "seller": _SELLER_ZH,
        "buyer": _BUYER_ZH,
        "goods_name": "数控精密平面磨床",
        "goods_specification": "CM-M7150A，工作台 500×1000 mm",
        "goods_unit": "台",
        "goods_quantity": "3",
        "unit_price": "415000.00",
        "total": "1245000.00",
        "tax_rate": "13%",
        "quality_standard": "GB/T 4685-2007《精密卧轴矩台平面磨床 精度检验》及双方确认的技术规格书",
        "packaging_standard": "GB/T 13384-2008《机电产品包装通用技术条件》",
        "delivery_date": "2027-01-15",
        "delivery_address": "江苏省苏州市工业园区星湖街328号恒远智能装备3号厂房",
        "consignee": "张伟，138 1234 5678",
        "transport_method": "卖方负责送货",
        "accompanying_documents": "出厂检验报告、随机备件清单",
        "retention_of_title": "在买方付清全部价款前仍属于卖方",
        "inspection_days": "15",
        "payment_method": "银行转账",
        "payment_terms": "本合同生效后十个工作日内，买方支付合同总价款的30%作为预付款；货物验收合格且卖方开具发票后三十日内，"
        "买方支付合同总价款的60%；其余10%作为质量保证金，于质量保证期届满且无质量争议后十个工作日内支付",
        "invoice_type": "专用发票",
        "seller_bank_name": "中国工商银行上海张江支行",
        "seller_bank_account": "1001 2345 0900 1234 567",
        "warranty_months": "12",
        "response_hours": "24",
        "late_delivery_rate": "万分之五",
        "termination_days": "30",
        "late_payment_rate": "万分之五",
        "dispute_resolution": _DISPUTE_SHANGHAI,
        "other_terms": "卖方负责设备的安装调试，并对买方操作人员进行不少于三个工作日的免费培训",
    },
    "sales-contract-en": {
        "contract_number": "CM-EX-2026-0042",
        "signing_place": "Shanghai, China",
        "seller": _SELLER_EN,
        "buyer": _BUYER_EN,
        "goods_name": "CNC precision surface grinding machine",
        "goods_specification": "Model CM-M7150A, table 500 × 1000 mm, CE marked",
        "goods_unit": "set",
        "goods_quantity": "3",
        "unit_price": "58600.00",
        "total": "175800.00",
        "currency": "USD",
        "total_in_words": "US Dollars One Hundred Seventy-Five Thousand Eight Hundred Only",
        "incoterm": "CIF",
        "incoterm_place": "Hamburg, Germany",
        "quality_standard": "ISO 16089:2015 and the technical specification signed by the Parties",
        "accompanying_documents": "CE declaration of conformity and operating manual in English and German",
        "delivery_date": "2027-02-28",
        "partial_shipment": "not allowed",
        "delivery_address": "Port of Hamburg, Germany (port of loading: Shanghai, China)",
        "title_transfer": "upon full payment of the price",
        "inspection_days": "20",
        "payment_method": "telegraphic transfer",
        "payment_terms": "30% of the total price within ten days after signing; 70% within thirty days after "
        "receipt of a copy of the bill of lading and the commercial invoice",
        "seller_bank_name": "Bank of China, Shanghai Pudong Branch",
        "seller_bank_account": "4563 7012 3456 7890",
        "seller_swift": "BKCHCNBJ300",
        "warranty_months": "18",
        "response_hours": "48",
        "late_delivery_rate": "0.05%",
        "termination_days": "45",
        "late_payment_rate": "0.05%",
        "governing_law": "the People's Republic of China",
        "cisg": "applies",
        "arbitration_institution": "the Singapore International Arbitration Centre",
        "arbitration_seat": "Singapore",
        "arbitration_language": "English",
        "other_terms": "The Seller shall supervise installation and commissioning at the Buyer's plant in Hamburg",
    },
    "nda-zh": {
        "agreement_number": "NDA-2026-0731",
        "party_a": _SELLER_ZH,
        "party_b": _BUYER_ZH,
        "purpose": "智能磨削产线联合研发项目的技术交流与合作可行性评估",
        "term_years": "2",
        "survival_years": "3",
        "penalty": "500000",
        "dispute_resolution": _DISPUTE_SHANGHAI,
    },
    "nda-en": {
        "agreement_number": "NDA-2026-0732",
        "party_a": _SELLER_EN,
        "party_b": _BUYER_EN,
        "purpose": "evaluating a joint development of an automated grinding line for the European market",
        "term_years": "2",
        "survival_years": "3",
        "governing_law": "England and Wales",
        "arbitration_institution": "the London Court of International Arbitration",
        "arbitration_seat": "London",
    },
    "labour-contract-zh": {
        "contract_number": "LD-2026-0093",
        "employer": _SELLER_ZH,
        "employee": {
            "name": "陈晓明",
            "id_number": "310115199203154218",
            "address": "上海市浦东新区锦绣路2580弄12号601室",
            "phone": "139 1688 2046",
            "email": "chenxiaoming@example.cn",
        },
        "term_type": "固定期限",
        "start_date": "2027-01-04",
        "term_end": "至2029年12月31日止",
        "probation_period": "二个月，自2027年1月4日起至2027年3月3日止",
        "department": "研发中心",
        "job_title": "机械设计工程师",
        "job_duties": "负责磨床主机结构设计、图纸绘制与技术文件编制，参与样机试制和现场技术支持",
        "work_place": "上海市浦东新区张江路1288号",
        "working_hours_system": "标准工时制",
        "monthly_wage": "18500.00",
        "probation_wage": "15000.00",
        "pay_day": "15",
        "other_remuneration": "按甲方《绩效考核与奖金管理办法》发放季度绩效奖金和年终奖金",
        "benefits": "补充商业医疗保险、年度健康体检、每月交通补贴人民币500元",
        "occupational_hazards": "无接触职业病危害因素的作业；进入生产车间时须按规定佩戴防护用品",
        "arbitration_committee": "上海市浦东新区劳动人事争议仲裁委员会",
    },
    "employment-agreement-en": {
        "agreement_number": "EA-2026-0017",
        "employer": _BUYER_EN,
        "employee": {
            "name": "Anna Lindqvist",
            "id_number": "Passport SE 91234567",
            "address": "Grindelallee 88, 20146 Hamburg, Germany",
            "phone": "+49 151 2345 6789",
            "email": "anna.lindqvist@example.com",
        },
        "start_date": "2027-01-04",
        "term_type": "an indefinite term",
        "term_end": "It continues until terminated in accordance with clause 9",
        "probation_months": "6",
        "probation_notice_days": "14",
        "job_title": "Senior Application Engineer",
        "department": "Customer Engineering",
        "reports_to": "the Head of Customer Engineering",
        "job_duties": "commissioning grinding lines at customer sites, process optimisation and training of "
        "customer staff",
        "work_place": "Am Sandtorkai 41, 20457 Hamburg, Germany",
        "weekly_hours": "40",
        "annual_leave_days": "28",
        "currency": "EUR",
        "annual_salary": "78000.00",
        "pay_frequency": "monthly",
        "bonus_terms": "an annual bonus of up to 10% of the base salary, depending on targets agreed each year",
        "benefits": "company pension contribution of 4% of base salary, public transport pass and a laptop "
        "and mobile phone for business use",
        "notice_days": "90",
        "governing_law": "the Federal Republic of Germany",
    },
    "announcement-zh": {
        "issuer": _SELLER_ZH,
        "document_number": "澄明司发〔2026〕18号",
        "announcement_title": "关于2027年元旦放假安排的公告",
        "addressee": "公司全体员工及各合作单位",
        "background": "根据国务院办公厅关于2027年部分节假日安排的通知，结合公司生产经营实际，经公司研究决定，现就2027年元旦放假事宜作出安排",
        "item_1": "2027年1月1日至1月3日放假调休，共3天；1月4日（星期一）正常上班",
        "item_2": "放假期间，客户服务热线 400-820-1234 照常受理设备报修，售后服务部安排专人值班",
        "item_3": "各部门应在放假前完成安全检查，切断非必要电源，做好防火、防盗工作",
        "effective_date": "2026-12-31",
        "contact_person": "行政人事部刘婷",
        "issue_date": "2026-12-20",
    },
    "announcement-en": {
        "issuer": _BUYER_EN,
        "document_number": "NA-HR-2026-11",
        "announcement_title": "Relocation of the Hamburg Service Centre",
        "addressee": "All employees, customers and suppliers",
        "background": "To serve our customers in Northern Europe better, Nordhafen Automation GmbH is moving its "
        "service centre to larger premises",
        "item_1": "From 1 February 2027 the service centre is located at Hafenstrasse 12, 21079 Hamburg",
        "item_2": "Telephone numbers, e-mail addresses and the service hotline +49 40 3090 1299 remain unchanged",
        "item_3": "Deliveries for the service centre shall be addressed to the new premises from that date",
        "effective_date": "2027-02-01",
        "contact_person": "Jonas Becker, Facility Management",
        "issue_date": "2026-12-15",
    },
}


def sample_values(slug: str) -> dict[str, Any]:
    """Realistic values for every variable of the built-in template ``slug`` (a fresh copy)."""
    return json.loads(json.dumps(_SAMPLES[slug]))
