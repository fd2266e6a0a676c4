import pytest

from econtract.cli import main


@pytest.mark.django_db
def test_openapi_documents_the_public_contract(client):
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/envelopes",
        "/api/v1/envelopes/{envelope_id}",
        "/api/v1/envelopes/{envelope_id}/send",
        "/api/v1/envelopes/{envelope_id}/document",
        "/api/v1/envelopes/{envelope_id}/events",
        "/api/v1/envelopes/{envelope_id}/void",
        "/api/v1/envelopes/{envelope_id}/parties/{party_id}/otp",
        "/api/v1/envelopes/{envelope_id}/parties/{party_id}/sign",
        "/api/v1/envelopes/{envelope_id}/parties/{party_id}/decline",
        "/api/v1/me/signing-pin",
        "/api/v1/verify",
    ):
        assert path in paths, path
    assert "put" in paths["/api/v1/me/signing-pin"]
    assert client.get("/api/docs").status_code == 200


def test_cli_refuses_unknown_commands_with_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "unknown command" in capsys.readouterr().err
