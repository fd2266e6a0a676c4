"""SMS codes per phone number, per client address and per account: exact under parallel requests,
answered 429 with Retry-After, and a request one limit refuses costs nothing under the others."""

from __future__ import annotations

import json
import threading

import pytest
from django.test import RequestFactory
from django.utils import translation

from econtract.api.errors import domain_error_response
from econtract.notifications.errors import InvalidPhone, SmsRateLimited
from econtract.notifications.smslimits import check_sms_allowance
from econtract.web.errors import error_message

VICTIM = "+8613800138000"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.ECONTRACT_SMS_CODES_PER_PHONE = 5
    settings.ECONTRACT_SMS_CODES_PER_ADDRESS = 20
    settings.ECONTRACT_SMS_CODES_PER_ACCOUNT = 10


def phone(n: int) -> str:
    return f"+86139{n:08d}"


def in_parallel(calls) -> tuple[list[str], list[SmsRateLimited]]:
    """Run every call at once (a barrier releases them together); returns the allowed and the refused."""
    start = threading.Barrier(len(calls))
    allowed: list[str] = []
    refused: list[SmsRateLimited] = []
    lock = threading.Lock()

    def run(call) -> None:
        start.wait(timeout=30)
        try:
            number = call()
        except SmsRateLimited as exc:
            with lock:
                refused.append(exc)
        else:
            with lock:
                allowed.append(number)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return allowed, refused


def test_one_phone_gets_exactly_its_limit_from_many_addresses_at_once():
    calls = [lambda n=n: check_sms_allowance("138 0013 8000", f"198.51.100.{n}") for n in range(16)]
    allowed, refused = in_parallel(calls)
    assert allowed == [VICTIM] * 5 and len(refused) == 11
    assert {exc.scope for exc in refused} == {"phone"}
    # the window's end, in whole seconds: never more than the window (ratelimit.hit), never less than 1
    assert all(1 <= exc.retry_after <= 3600 for exc in refused), [e.retry_after for e in refused]


def test_one_address_gets_exactly_its_limit_across_many_phones_at_once():
    allowed, refused = in_parallel(
        [lambda n=n: check_sms_allowance(phone(n), "203.0.113.7") for n in range(30)]
    )
    assert len(allowed) == 20 and len(set(allowed)) == 20
    assert len(refused) == 10 and {exc.scope for exc in refused} == {"address"}


def test_an_ipv6_client_is_limited_per_64():
    for n in range(20):
        check_sms_allowance(phone(n), f"2001:db8:1:2::{n + 1:x}")
    with pytest.raises(SmsRateLimited) as refused:
        check_sms_allowance(phone(99), "2001:db8:1:2:ffff::1")  # another address of the same /64
    assert refused.value.scope == "address"
    assert check_sms_allowance(phone(99), "2001:db8:1:3::1") == phone(99)  # the next /64 is someone else


@pytest.mark.django_db
def test_one_account_gets_exactly_its_limit_at_once(make_user):
    user, other = make_user(), make_user()
    calls = [lambda n=n: check_sms_allowance(phone(n), f"192.0.2.{n}", user) for n in range(14)]
    allowed, refused = in_parallel(calls)
    assert len(allowed) == 10 and len(refused) == 4 and {exc.scope for exc in refused} == {"account"}
    assert check_sms_allowance(phone(50), "192.0.2.200", other) == phone(50)


def test_a_throttled_address_cannot_use_up_the_victims_allowance():
    for n in range(20):
        check_sms_allowance(phone(n), "203.0.113.9")
    for _ in range(30):  # the attacker keeps asking for codes to the victim's number
        with pytest.raises(SmsRateLimited) as refused:
            check_sms_allowance(VICTIM, "203.0.113.9")
        assert refused.value.scope == "address"
    # the victim, from their own address, still has every one of their codes
    assert [check_sms_allowance(VICTIM, "198.51.100.1") for _ in range(5)] == [VICTIM] * 5
    with pytest.raises(SmsRateLimited):
        check_sms_allowance(VICTIM, "198.51.100.1")


def test_the_address_is_read_from_the_request(rf: RequestFactory):
    request = rf.post("/x", REMOTE_ADDR="192.0.2.33")
    for n in range(20):
        check_sms_allowance(phone(n), request)
    with pytest.raises(SmsRateLimited):
        check_sms_allowance(phone(21), "192.0.2.33")


def test_an_invalid_number_is_refused_before_anything_is_counted():
    with pytest.raises(InvalidPhone):
        check_sms_allowance("+86 10 8888 8888", "192.0.2.1")
    assert [check_sms_allowance(phone(n), "192.0.2.1") for n in range(20)]


def test_the_api_answers_429_with_retry_after_and_400_for_a_bad_number(rf: RequestFactory):
    request = rf.post("/api/v1/x")
    response = domain_error_response(request, SmsRateLimited("too many", scope="phone", retry_after=1234))
    assert response.status_code == 429 and response["Retry-After"] == "1234"
    assert json.loads(response.content)["error"] == "sms_rate_limited"
    response = domain_error_response(request, InvalidPhone("not a mobile phone number"))
    assert response.status_code == 400
    assert json.loads(response.content) == {"error": "invalid_phone", "detail": "not a mobile phone number"}


def test_the_web_pages_say_it_in_chinese():
    with translation.override("zh-hans"):
        assert error_message(InvalidPhone("x")) == "这不是有效的手机号码。"
        assert (
            error_message(SmsRateLimited("x", scope="phone", retry_after=5))
            == "请求发送的短信过多，请稍后再试。"
        )
