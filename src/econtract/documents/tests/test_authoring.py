"""Documents written on the platform: versions with optimistic locking, rights, review status, comments."""

from __future__ import annotations

import pytest

from econtract.accounts.errors import NotPermitted
from econtract.accounts.services import add_member
from econtract.documents import authoring
from econtract.documents.errors import DocumentNotEditable, InvalidDocument, VersionConflict
from econtract.documents.models import Document
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext

pytestmark = pytest.mark.django_db

CONTEXT = RequestContext.system("test")
FIRST = "<h1>买卖合同 Sales Contract</h1><p>甲方应于三十日内付款。The buyer pays within thirty days.</p>"


@pytest.fixture
def author(make_user, enterprise):
    user = make_user("author@acme.test", "王五 Wang Wu")
    add_member(enterprise, user)
    return user


@pytest.fixture
def document(author, enterprise) -> Document:
    return authoring.create_document(
        author, enterprise, title="买卖合同", kind="contract", html=FIRST, context=CONTEXT
    )


def test_every_save_is_a_version_and_is_logged(document, author):
    # Given a new document (version 1)
    assert document.current_version == 1 and document.latest().html.startswith("<h1>")
    # When its author saves twice on top of the latest version
    v2 = authoring.save_version(
        document, author, html=FIRST.replace("三十", "六十"), base_version=1, context=CONTEXT
    )
    v3 = authoring.save_version(
        document, author, html=FIRST + "<p>第二条</p>", base_version=2, context=CONTEXT
    )
    # Then there are three versions, each with its SHA-256 in the evidence log
    assert [v2.number, v3.number] == [2, 3]
    assert list(document.versions.values_list("number", flat=True)) == [1, 2, 3]
    saved = Event.objects.for_subject(document).filter(kind="document_saved")
    assert [e.document_sha256 for e in saved] == [v2.sha256, v3.sha256]


def test_saving_over_a_newer_version_is_a_conflict_that_changes_nothing(document, author):
    # Given someone saved version 2 while she was still editing version 1
    authoring.save_version(document, author, html="<p>theirs</p>", base_version=1, context=CONTEXT)
    # When she saves on top of version 1
    with pytest.raises(VersionConflict) as conflict:
        authoring.save_version(document, author, html="<p>mine</p>", base_version=1, context=CONTEXT)
    # Then nothing is stored and she gets the latest version to show beside hers
    assert conflict.value.current_version == 2 and conflict.value.current_html == "<p>theirs</p>"
    document.refresh_from_db()
    assert document.current_version == 2


def test_saving_the_same_html_again_makes_no_new_version(document, author):
    # Given autosave firing with nothing changed, then the latest version is returned
    again = authoring.save_version(document, author, html=FIRST, base_version=1, context=CONTEXT)
    assert again.number == 1 and document.versions.count() == 1


def test_scripts_are_removed_before_anything_is_stored(document, author):
    # Given HTML with a script, an event handler and a javascript: link
    hostile = '<p onclick="x()">ok<script>alert(1)</script><a href="javascript:alert(1)">l</a></p>'
    # When it is saved, then what is stored has none of them
    version = authoring.save_version(document, author, html=hostile, base_version=1, context=CONTEXT)
    assert "script" not in version.html and "onclick" not in version.html and "javascript" not in version.html
    assert "ok" in version.html


def test_restoring_makes_the_old_text_the_newest_version(document, author):
    authoring.save_version(document, author, html="<p>changed</p>", base_version=1, context=CONTEXT)
    restored = authoring.restore_version(document, author, 1, CONTEXT)
    assert (
        restored.number == 3
        and restored.restored_from == 1
        and restored.html == document.versions.get(number=1).html
    )


def test_rights_view_comment_edit_and_strangers(document, author, make_user):
    # Given a viewer, a commenter and a stranger
    viewer, commenter, stranger = (
        make_user(f"{n}@example.test") for n in ("viewer", "commenter", "stranger")
    )
    authoring.share(document, author, email="viewer@example.test", right="view", context=CONTEXT)
    authoring.share(document, author, email="COMMENTER@example.test", right="comment", context=CONTEXT)
    # Then the stranger does not even see it, the viewer sees but cannot comment or save
    with pytest.raises(Document.DoesNotExist):
        authoring.visible_document(stranger, document.pk)
    assert authoring.visible_document(viewer, document.pk) == document
    with pytest.raises(NotPermitted):
        authoring.add_comment(document, viewer, body="?", context=CONTEXT)
    with pytest.raises(NotPermitted):
        authoring.save_version(document, viewer, html="<p>x</p>", base_version=1, context=CONTEXT)
    # and the commenter comments (with a reply) and resolves, but cannot save or share
    comment = authoring.add_comment(
        document, commenter, body="三十日太短", quote="三十日", start=23, end=26, context=CONTEXT
    )
    # (the offsets count the version's text: a quote that is not there is refused; a quote alone is found)
    with pytest.raises(InvalidDocument) as misplaced:
        authoring.add_comment(document, commenter, body="?", quote="三十日", start=9, end=12, context=CONTEXT)
    assert misplaced.value.code == "anchor_mismatch"
    found = authoring.add_comment(document, commenter, body="!", quote="thirty days", context=CONTEXT)
    assert (found.start, found.end) == (52, 63)
    reply = authoring.add_comment(document, author, body="改为六十日", parent_id=comment.pk, context=CONTEXT)
    assert reply.parent == comment and reply.version == comment.version
    resolved = authoring.resolve_comment(document, commenter, comment.pk, CONTEXT)
    assert resolved.resolved_at is not None and resolved.resolved_by == commenter
    with pytest.raises(NotPermitted):
        authoring.save_version(document, commenter, html="<p>x</p>", base_version=1, context=CONTEXT)
    with pytest.raises(NotPermitted):
        authoring.share(document, commenter, email="stranger@example.test", right="edit", context=CONTEXT)


def test_a_final_document_is_not_changed_until_it_is_reopened(document, author):
    authoring.set_status(document, author, "in_review", CONTEXT)
    authoring.set_status(document, author, "final", CONTEXT)
    with pytest.raises(DocumentNotEditable):
        authoring.save_version(document, author, html="<p>late</p>", base_version=1, context=CONTEXT)
    with pytest.raises(InvalidDocument):
        authoring.set_status(document, author, "in_review", CONTEXT)  # final → draft only
    authoring.set_status(document, author, "draft", CONTEXT)
    assert (
        authoring.save_version(document, author, html="<p>late</p>", base_version=1, context=CONTEXT).number
        == 2
    )
    kinds = list(Event.objects.for_subject(document).values_list("kind", flat=True))
    assert kinds.count("document_status_changed") == 3


def test_control_characters_in_html_are_refused(document, author):
    with pytest.raises(InvalidDocument):
        authoring.save_version(document, author, html="<p>a\x1bb</p>", base_version=1, context=CONTEXT)


def test_only_members_create_documents_in_an_organisation(make_user, enterprise):
    outsider = make_user("outsider@example.test")
    with pytest.raises(NotPermitted):
        authoring.create_document(
            outsider, enterprise, title="x", kind="contract", html="<p>x</p>", context=CONTEXT
        )
