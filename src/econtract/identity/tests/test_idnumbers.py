"""Document numbers and USCCs refused or accepted locally, before any provider is asked.

Expected check characters come from the standards' own examples or from the independent
implementations below (GB 11643's weight table, GB 32100's weights), never from the code under test.
"""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone, translation

from econtract.api.errors import STATUS_BY_CODE
from econtract.identity.errors import InvalidIdNumber, InvalidUscc
from econtract.identity.idnumbers import (
    IdType,
    Sex,
    mask_id_number,
    validate_id_number,
    validate_uscc,
)
from econtract.web.errors import MESSAGES, error_message

# GB 11643-1999 clause 7: weights W_i = 2^(18-i) mod 11 and the check table for the sum mod 11.
GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
GB11643_CHECK = "10X98765432"


def gb11643(body: str) -> str:
    """The 18-character number for a 17-digit body."""
    assert len(body) == 17 and body.isdigit()
    total = sum(int(digit) * weight for digit, weight in zip(body, GB11643_WEIGHTS, strict=True))
    return body + GB11643_CHECK[total % 11]


def wrong_check(number: str) -> str:
    """The same number with a different (wrong) check character."""
    return number[:-1] + ("0" if number[-1] != "0" else "1")


# GB 32100-2015: 31 characters, weights 3^(i-1) mod 31, check = 31 - (sum mod 31).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(body: str) -> str:
    assert len(body) == 17
    total = sum(USCC_ALPHABET.index(character) * pow(3, i, 31) for i, character in enumerate(body))
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


def refused(id_type: IdType, number: str) -> str:
    with pytest.raises(InvalidIdNumber) as caught:
        validate_id_number(id_type, number)
    assert caught.value.code == "invalid_id_number"
    return str(caught.value)


def test_helpers_agree_with_the_standards_own_examples():
    assert gb11643("11010519491231002") == "11010519491231002X"  # GB 11643-1999 example
    assert uscc("91350100M000100Y4") == "91350100M000100Y43"  # GB 32100-2015 example
    assert uscc("91110000600037341") == "91110000600037341L"  # python-stdnum's documented example


# Mainland resident ID (GB 11643)


def test_resident_id_from_the_standard_is_valid_and_says_what_it_carries():
    validated = validate_id_number(IdType.CN_RESIDENT, "11010519491231002X")
    assert validated.number == "11010519491231002X"
    assert validated.birth_date == datetime.date(1949, 12, 31)
    assert validated.sex is Sex.FEMALE  # sequence 002: even
    assert validated.region_code == "110105"
    assert validated.region_name == "北京市朝阳区"


def test_resident_id_odd_sequence_is_male():
    number = gb11643("36042619910101007")
    assert validate_id_number(IdType.CN_RESIDENT, number).sex is Sex.MALE


@pytest.mark.parametrize(
    "typed",
    [
        "11010519491231002x",
        " 110105 19491231 002X ",
        "110105-19491231-002x",
        "１１０１０５１９４９１２３１００２Ｘ",
    ],
)
def test_resident_id_is_normalised(typed):
    assert validate_id_number(IdType.CN_RESIDENT, typed).number == "11010519491231002X"


def test_resident_id_with_a_changed_check_character_is_refused():
    assert "check character" in refused(IdType.CN_RESIDENT, "110105194912310021")
    assert "check character" in refused(IdType.CN_RESIDENT, wrong_check(gb11643("36042619910101007")))


@pytest.mark.parametrize(
    "birth",
    ["19900230", "20010229", "19901301", "19900100", "18991231"],
)
def test_resident_id_with_an_impossible_birth_date_is_refused(birth):
    refused(IdType.CN_RESIDENT, gb11643("110105" + birth + "123"))


def test_resident_id_leap_day_is_accepted():
    assert validate_id_number(IdType.CN_RESIDENT, gb11643("11010520000229123")).birth_date == (
        datetime.date(2000, 2, 29)
    )


def test_resident_id_born_tomorrow_is_refused_and_today_accepted():
    today = timezone.localdate()
    tomorrow = today + datetime.timedelta(days=1)
    assert "future" in refused(IdType.CN_RESIDENT, gb11643("110105" + tomorrow.strftime("%Y%m%d") + "123"))
    born_today = validate_id_number(IdType.CN_RESIDENT, gb11643("110105" + today.strftime("%Y%m%d") + "123"))
    assert born_today.birth_date == today


@pytest.mark.parametrize("region", ["000000", "990101", "100101", "710101", "910101"])
def test_resident_id_outside_the_mainland_provinces_is_refused(region):
    refused(IdType.CN_RESIDENT, gb11643(region + "19900101123"))


def test_residence_permit_number_given_as_resident_id_points_at_the_right_type():
    assert "hkmt_residence" in refused(IdType.CN_RESIDENT, gb11643("81000019900101123"))


@pytest.mark.parametrize(
    "number",
    [
        "110105491231002",
        "11010519491231002",
        "1101051949123100211",
        "11010519491231002A",
        "X1010519491231002X",
    ],
)
def test_resident_id_of_the_wrong_shape_is_refused(number):
    refused(IdType.CN_RESIDENT, number)


def test_first_generation_15_digit_number_is_refused_with_a_reason():
    assert "18-digit" in refused(IdType.CN_RESIDENT, "110105491231002")


# Residence permit for Hong Kong, Macao and Taiwan residents


@pytest.mark.parametrize(("prefix", "region"), [("810000", "香港"), ("820000", "澳门"), ("830000", "台湾")])
def test_hkmt_residence_permit_is_valid_with_the_fixed_prefixes(prefix, region):
    number = gb11643(prefix + "19900101123")
    validated = validate_id_number(IdType.HKMT_RESIDENCE, number.lower())
    assert validated.number == number
    assert validated.birth_date == datetime.date(1990, 1, 1)
    assert validated.sex is Sex.MALE
    assert (validated.region_code, validated.region_name) == (prefix, region)


@pytest.mark.parametrize("prefix", ["840000", "810001", "810100", "110105"])
def test_hkmt_residence_permit_with_another_prefix_is_refused(prefix):
    assert "810000" in refused(IdType.HKMT_RESIDENCE, gb11643(prefix + "19900101123"))


def test_hkmt_residence_permit_check_character_and_date_are_checked():
    assert "check character" in refused(IdType.HKMT_RESIDENCE, wrong_check(gb11643("81000019900101123")))
    refused(IdType.HKMT_RESIDENCE, gb11643("81000019900230123"))


# Mainland travel permit for Hong Kong and Macao residents (回乡证)


@pytest.mark.parametrize(
    ("typed", "number", "region"),
    [
        ("H12345678", "H12345678", "810000"),
        ("m 1234 5678", "M12345678", "820000"),
        ("H1234567801", "H1234567801", "810000"),
    ],
)
def test_hk_macao_permit_is_valid(typed, number, region):
    validated = validate_id_number(IdType.HK_MACAO_PERMIT, typed)
    assert (validated.number, validated.region_code) == (number, region)
    assert validated.birth_date is None and validated.sex is None


@pytest.mark.parametrize(
    "number",
    ["H1234567", "H123456789", "H123456789012", "A12345678", "12345678", "H12345678(01)", "HH1234567"],
)
def test_hk_macao_permit_of_the_wrong_shape_is_refused(number):
    refused(IdType.HK_MACAO_PERMIT, number)


# Mainland travel permit for Taiwan residents (台胞证)


def test_taiwan_permit_is_eight_digits():
    assert validate_id_number(IdType.TAIWAN_PERMIT, "0123 4567").number == "01234567"


@pytest.mark.parametrize("number", ["1234567", "123456789", "1234567890", "12345678(B)", "T1234567"])
def test_taiwan_permit_of_another_shape_is_refused(number):
    refused(IdType.TAIWAN_PERMIT, number)


# Foreign permanent residence ID card


def test_foreign_permanent_2017_card_is_valid():
    validated = validate_id_number(IdType.FOREIGN_PERMANENT, "usa110085010112")
    assert validated.number == "USA110085010112"
    assert validated.nationality == "USA"
    assert validated.birth_date == datetime.date(1985, 1, 1)
    assert (validated.region_code, validated.region_name) == ("110000", "北京市")
    assert validated.sex is None


def test_foreign_permanent_2017_card_two_digit_year_is_never_in_the_future():
    assert validate_id_number(IdType.FOREIGN_PERMANENT, "GBR310010030101").birth_date == (
        datetime.date(2010, 3, 1)
    )
    next_year = (timezone.localdate().year + 1) % 100
    number = f"GBR3100{next_year:02d}030101"
    assert validate_id_number(IdType.FOREIGN_PERMANENT, number).birth_date == (
        datetime.date(1900 + next_year, 3, 1)
    )


@pytest.mark.parametrize(
    "number",
    [
        "USA110085130112",
        "USA110085023012",
        "USA990085010112",
        "USA810085010112",
        "US1110085010112",
        "USA11008501011",
    ],
)
def test_foreign_permanent_2017_card_of_the_wrong_shape_is_refused(number):
    refused(IdType.FOREIGN_PERMANENT, number)


def test_foreign_permanent_2023_card_is_valid():
    number = gb11643("91184019850101123")
    validated = validate_id_number(IdType.FOREIGN_PERMANENT, number)
    assert validated.number == number
    assert validated.nationality == "840"
    assert validated.birth_date == datetime.date(1985, 1, 1)
    assert validated.sex is Sex.MALE
    assert validated.region_code == "110000"


@pytest.mark.parametrize(
    "number",
    [
        wrong_check(gb11643("91184019850101123")),
        gb11643("91184019850230123"),  # Feb 30
        gb11643("99984019850101123"),  # province 99
        gb11643("11010519491231002"),  # a resident ID, not starting with 9
    ],
)
def test_foreign_permanent_2023_card_faults_are_refused(number):
    refused(IdType.FOREIGN_PERMANENT, number)


# Passports (format only)


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("E12345678", "E12345678"),
        ("ea1234567", "EA1234567"),
        ("G 1234 5678", "G12345678"),
        ("533380006", "533380006"),
    ],
)
def test_passport_format_is_accepted(typed, number):
    assert validate_id_number(IdType.PASSPORT, typed).number == number


@pytest.mark.parametrize("number", ["E123", "E" * 20 + "1", "ABCDEFGH", "E1234567!", "E12345678<<"])
def test_passport_of_the_wrong_shape_is_refused(number):
    refused(IdType.PASSPORT, number)


# Every type


@pytest.mark.parametrize("id_type", list(IdType))
@pytest.mark.parametrize("number", ["", "   ", "一二三四五六七八", "1" * 65])
def test_empty_foreign_script_and_overlong_input_is_refused(id_type, number):
    refused(id_type, number)


def test_the_codes_answer_400_and_have_a_message():
    assert STATUS_BY_CODE["invalid_id_number"] == 400
    assert STATUS_BY_CODE["invalid_uscc"] == 400
    assert "invalid_id_number" in MESSAGES and "invalid_uscc" in MESSAGES


def test_the_refusal_reads_in_chinese_with_its_reason():
    with pytest.raises(InvalidIdNumber) as caught:
        validate_id_number(IdType.CN_RESIDENT, "110105194912310021")
    with translation.override("zh-hans"):
        message = error_message(caught.value)
    assert message.startswith("证件号码无效")
    assert "check character" in message
    with translation.override("zh-hans"):
        assert str(MESSAGES["invalid_uscc"]) == "统一社会信用代码无效。"


# Unified social credit code (GB 32100)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("91350100M000100Y43", "91350100M000100Y43"),
        ("91110000600037341l", "91110000600037341L"),
        ("9111 0000 6000 3734 1L", "91110000600037341L"),
        (uscc("12100000400000624"), uscc("12100000400000624")),
        (uscc("N2110105MF0000001"), uscc("N2110105MF0000001")),  # agricultural collective
    ],
)
def test_uscc_is_valid(typed, code):
    assert validate_uscc(typed) == code


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # check character changed
        "91110000600037341K",
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y433",
        "9135010OM000100Y43",  # letter O in the region code
        "91350100M000I00Y43",  # I is not in the code's character set
        "",
    ],
)
def test_uscc_faults_are_refused(code):
    with pytest.raises(InvalidUscc) as caught:
        validate_uscc(code)
    assert caught.value.code == "invalid_uscc"


def test_uscc_with_a_letter_in_the_region_code_is_refused_even_with_a_matching_check():
    with pytest.raises(InvalidUscc, match="region"):
        validate_uscc(uscc("9135A100M000100Y4"))


# Masking for display


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("11010519491231002X", "110***********002X"),
        ("USA110085010112", "USA*********112"),
        ("H1234567801", "H1*******01"),
        ("H12345678", "H******78"),
        ("01234567", "0*****67"),
        ("AB123", "A***3"),
        ("ABC", "***"),
        ("", ""),
    ],
)
def test_mask_keeps_the_ends(number, masked):
    assert mask_id_number(number) == masked


def test_mask_never_shows_more_than_two_fifths():
    for length in range(31):
        number = "".join(str(i % 10) for i in range(length))
        visible = sum(1 for character in mask_id_number(number) if character != "*")
        assert len(mask_id_number(number)) == length
        assert visible * 5 <= length * 2


def test_validated_id_masks_its_number():
    assert validate_id_number(IdType.CN_RESIDENT, "11010519491231002X").masked == "110***********002X"
