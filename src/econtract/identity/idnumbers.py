"""Identity document numbers and unified social credit codes, checked locally before any provider is asked.

A malformed number is refused here (``InvalidIdNumber`` / ``InvalidUscc``) so it never costs a
provider call. Formats, as read from the published descriptions:

- ``cn_resident``: GB 11643-1999 citizen identity number, 6-digit address code + YYYYMMDD +
  3-digit sequence (odd male, even female) + ISO 7064 MOD 11-2 check character (0-9 or X).
- ``hkmt_residence``: residence permit for Hong Kong, Macao and Taiwan residents (2018), the same
  18-character structure with the fixed address codes 810000, 820000 and 830000.
- ``hk_macao_permit`` (回乡证): H (Hong Kong) or M (Macao) + the 8-digit lifelong number; the
  older cards and many systems append the 2-digit renewal count (H/M + 10 digits).
- ``taiwan_permit`` (台胞证): the 8-digit lifelong number of the card issued since 2015.
- ``foreign_permanent``: 2017 card, 3 letters (ISO 3166-1 alpha-3 nationality) + 4-digit
  receiving-office code (province first) + YYMMDD + 2 digits; 2023 card, "9" + 2-digit province
  + 3-digit numeric nationality + YYYYMMDD + 3-digit sequence + MOD 11-2 check, as GB 11643.
- ``passport``: format only (the issuing state is not known from the number), 5 to 20 letters and
  digits with at least one digit. Chinese passports read E + 8 digits, E + letter + 7 digits, or
  the expired G + 8 digits.
"""

from __future__ import annotations

import datetime
import enum
import re
from dataclasses import dataclass

from django.utils import timezone
from stdnum import numdb
from stdnum.cn import ric, uscc

from econtract.identity.errors import InvalidIdNumber, InvalidUscc


class IdType(enum.StrEnum):
    """Document types, by the ids the identity verification API uses."""

    CN_RESIDENT = "cn_resident"
    HKMT_RESIDENCE = "hkmt_residence"
    HK_MACAO_PERMIT = "hk_macao_permit"
    TAIWAN_PERMIT = "taiwan_permit"
    FOREIGN_PERMANENT = "foreign_permanent"
    PASSPORT = "passport"


class Sex(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True, slots=True)
class ValidatedId:
    """A well-formed document number and what its format says about the holder."""

    id_type: IdType
    number: str  # normalised: upper-case ASCII, no spaces or hyphens
    birth_date: datetime.date | None = None
    sex: Sex | None = None
    # GB/T 2260 code of the issuing (or, for residence permits, home) region, and its name.
    region_code: str | None = None
    region_name: str | None = None
    # Foreign permanent residence only: ISO 3166-1 alpha-3 (2017 card) or numeric (2023 card).
    nationality: str | None = None

    @property
    def masked(self) -> str:
        return mask_id_number(self.number)


# Longer input is refused before any work: no format here is longer than 20 characters.
MAX_INPUT_LENGTH = 64
# No living holder was born before this; earlier dates are typing errors.
EARLIEST_BIRTH_DATE = datetime.date(1900, 1, 1)

# Residence permits for Hong Kong, Macao and Taiwan residents use these address codes only.
HKMT_REGIONS = {"810000": "香港", "820000": "澳门", "830000": "台湾"}
PERMIT_REGIONS = {"H": ("810000", "香港"), "M": ("820000", "澳门")}
# GB/T 2260 provinces that issue no mainland resident ID card (Taiwan; Hong Kong and Macao
# residents hold residence permits).
NOT_MAINLAND_PROVINCES = frozenset({"71", "81", "82", "83"})

_ALNUM = re.compile(r"[0-9A-Z]+")
_SEPARATORS = re.compile(r"[\s\-]+")
_HK_MACAO_PERMIT = re.compile(r"[HM]\d{8}(?:\d{2})?")
_TAIWAN_PERMIT = re.compile(r"\d{8}")
_FOREIGN_2017 = re.compile(r"[A-Z]{3}\d{12}")
_FOREIGN_2023 = re.compile(r"9\d{16}[0-9X]")
_GB11643 = re.compile(r"\d{17}[0-9X]")
_PASSPORT = re.compile(r"[0-9A-Z]{5,20}")
_USCC_CHARACTERS = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")


def validate_id_number(id_type: IdType, number: str) -> ValidatedId:
    """The normalised number and what it carries, or ``InvalidIdNumber`` naming the fault."""
    if len(number) > MAX_INPUT_LENGTH:
        raise InvalidIdNumber(f"the number is longer than {MAX_INPUT_LENGTH} characters")
    normalised = _normalise(number)
    if not normalised:
        raise InvalidIdNumber("the number is empty")
    if not _ALNUM.fullmatch(normalised):
        raise InvalidIdNumber("the number may contain only letters and digits")
    validator = _VALIDATORS[id_type]
    return validator(normalised)


def validate_uscc(code: str) -> str:
    """The normalised unified social credit code (GB 32100-2015), or ``InvalidUscc``.

    Positions 1-2 (registering department and organisation category) are checked against the
    code's 31-character set rather than digits only, as stdnum does: departments outside the 2015
    table have since been given letters (N, agricultural collectives).
    """
    normalised = _normalise(code[: MAX_INPUT_LENGTH + 1])
    if len(normalised) != 18:
        raise InvalidUscc("a unified social credit code has 18 characters")
    if any(character not in _USCC_CHARACTERS for character in normalised):
        raise InvalidUscc(
            "a unified social credit code uses digits and upper-case letters except I, O, S, V, Z"
        )
    if not normalised[2:8].isdigit():
        raise InvalidUscc("characters 3 to 8 (the region code) must be digits")
    if normalised[-1] != uscc.calc_check_digit(normalised[:17]):
        raise InvalidUscc("the check character does not match")
    return normalised


def mask_id_number(number: str) -> str:
    """The number with the middle hidden, for display: ``110***********002X``.

    At most 3 leading and 4 trailing characters stay visible, and never more than 2/5 of the
    number: a short permit number (``H12345678``) shows ``H******78``; 3 characters or fewer show
    nothing.
    """
    length = len(number)
    tail = min(4, length // 4)
    head = max(0, min(3, length // 5, length * 2 // 5 - tail))
    return number[:head] + "*" * (length - head - tail) + number[length - tail :]


def _normalise(number: str) -> str:
    # Full-width letters and digits (typed with a Chinese input method) count as their ASCII forms.
    ascii_form = "".join(
        chr(ord(character) - 0xFEE0) if "\uff01" <= character <= "\uff5e" else character
        for character in number
    )
    return _SEPARATORS.sub("", ascii_form).upper()


def _cn_resident(number: str) -> ValidatedId:
    if len(number) == 15 and number.isdigit():
        raise InvalidIdNumber(
            "15-digit first-generation numbers are no longer valid: enter the 18-digit number"
        )
    _check_gb11643(number, "a resident ID number")
    province = number[:2]
    if province in NOT_MAINLAND_PROVINCES:
        if number[:6] in HKMT_REGIONS:
            raise InvalidIdNumber("this is a residence permit number: choose hkmt_residence")
        raise InvalidIdNumber(f"region {province} does not issue mainland resident ID cards")
    province_name = _province_name(province)
    if province_name is None:
        raise InvalidIdNumber(f"{province} is not a province code")
    return ValidatedId(
        id_type=IdType.CN_RESIDENT,
        number=number,
        birth_date=_birth_date(number[6:14]),
        sex=_sex(number[16]),
        region_code=number[:6],
        region_name=_region_name(number[:6], province_name),
    )


def _hkmt_residence(number: str) -> ValidatedId:
    _check_gb11643(number, "a residence permit number")
    region = HKMT_REGIONS.get(number[:6])
    if region is None:
        raise InvalidIdNumber("a residence permit number starts with 810000, 820000 or 830000")
    return ValidatedId(
        id_type=IdType.HKMT_RESIDENCE,
        number=number,
        birth_date=_birth_date(number[6:14]),
        sex=_sex(number[16]),
        region_code=number[:6],
        region_name=region,
    )


def _hk_macao_permit(number: str) -> ValidatedId:
    if not _HK_MACAO_PERMIT.fullmatch(number):
        raise InvalidIdNumber("a Mainland travel permit number is H or M followed by 8 (or 10) digits")
    region_code, region_name = PERMIT_REGIONS[number[0]]
    return ValidatedId(
        id_type=IdType.HK_MACAO_PERMIT, number=number, region_code=region_code, region_name=region_name
    )


def _taiwan_permit(number: str) -> ValidatedId:
    if not _TAIWAN_PERMIT.fullmatch(number):
        raise InvalidIdNumber("a Mainland travel permit number for Taiwan residents is 8 digits")
    return ValidatedId(id_type=IdType.TAIWAN_PERMIT, number=number, region_code="830000", region_name="台湾")


def _foreign_permanent(number: str) -> ValidatedId:
    if _FOREIGN_2023.fullmatch(number):
        _check_mod_11_2(number)
        province = number[1:3]
        return ValidatedId(
            id_type=IdType.FOREIGN_PERMANENT,
            number=number,
            birth_date=_birth_date(number[6:14]),
            sex=_sex(number[16]),
            region_code=_mainland_province(province) + "0000",
            region_name=_province_name(province),
            nationality=number[3:6],
        )
    if _FOREIGN_2017.fullmatch(number):
        province = number[3:5]
        return ValidatedId(
            id_type=IdType.FOREIGN_PERMANENT,
            number=number,
            birth_date=_birth_date(_two_digit_year(number[7:13])),
            region_code=_mainland_province(province) + "0000",
            region_name=_province_name(province),
            nationality=number[:3],
        )
    raise InvalidIdNumber(
        "a foreign permanent residence ID number is 3 letters and 12 digits (2017 card) "
        "or 18 characters starting with 9 (2023 card)"
    )


def _passport(number: str) -> ValidatedId:
    if not _PASSPORT.fullmatch(number):
        raise InvalidIdNumber("a passport number has 5 to 20 letters and digits")
    if not any(character.isdigit() for character in number):
        raise InvalidIdNumber("a passport number contains digits")
    return ValidatedId(id_type=IdType.PASSPORT, number=number)


_VALIDATORS = {
    IdType.CN_RESIDENT: _cn_resident,
    IdType.HKMT_RESIDENCE: _hkmt_residence,
    IdType.HK_MACAO_PERMIT: _hk_macao_permit,
    IdType.TAIWAN_PERMIT: _taiwan_permit,
    IdType.FOREIGN_PERMANENT: _foreign_permanent,
    IdType.PASSPORT: _passport,
}


def _check_gb11643(number: str, what: str) -> None:
    if len(number) != 18:
        raise InvalidIdNumber(f"{what} has 18 characters")
    if not _GB11643.fullmatch(number):
        raise InvalidIdNumber(f"{what} is 17 digits followed by a digit or X")
    _check_mod_11_2(number)


def _check_mod_11_2(number: str) -> None:
    # GB 11643 clause 7: ISO 7064 MOD 11-2 over the first 17 digits, X standing for 10.
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidIdNumber("the check character does not match")


def _birth_date(digits: str) -> datetime.date:
    try:
        born = datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise InvalidIdNumber(f"{digits} is not a real birth date") from None
    if born > timezone.localdate():
        raise InvalidIdNumber("the birth date is in the future")
    if born < EARLIEST_BIRTH_DATE:
        raise InvalidIdNumber("the birth date is before 1900")
    return born


def _two_digit_year(yymmdd: str) -> str:
    """YYYYMMDD for a YYMMDD date: this century unless that is impossible or in the future."""
    try:
        if datetime.date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])) <= timezone.localdate():
            return "20" + yymmdd
    except ValueError:
        pass  # then 19YY, and _birth_date names a date impossible in either century
    return "19" + yymmdd


def _sex(sequence_digit: str) -> Sex:
    # GB 11643 clause 6.3: the last sequence digit is odd for men, even for women.
    return Sex.MALE if int(sequence_digit) % 2 else Sex.FEMALE


def _province_name(code: str) -> str | None:
    """The province's name from stdnum's GB/T 2260 table (python-stdnum ships it)."""
    for part, properties in numdb.get("cn/loc").info(code + "0000"):
        if part == code and "province" in properties:
            return properties["province"]
    return None


def _mainland_province(code: str) -> str:
    if code in NOT_MAINLAND_PROVINCES or _province_name(code) is None:
        raise InvalidIdNumber(f"{code} is not a mainland province code")
    return code


def _region_name(address_code: str, province_name: str) -> str:
    """Province and county when stdnum's table names exactly one county for the code."""
    properties = {
        key: value for _, part in numdb.get("cn/loc").info(address_code) for key, value in part.items()
    }
    counties = properties.get("county", "").split(",")
    if address_code.endswith("0000") or len(counties) != 1 or not counties[0]:
        return province_name
    county = counties[0].split("]")[-1]
    if county in ("市辖区", "县", province_name):
        return province_name
    return province_name + county
