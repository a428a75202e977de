"""Every provider fixture parsed into its normalised form (or deliberately ignored), and the
signature test vectors verified. Fixtures: tests/fixtures/providers (see SOURCES.md there)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from app.providers import meta, twilio, waha, whapi
from app.providers.base import Outgoing, SendError, WebhookRejected, WebhookRequest, normalise_phone

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "providers"


def jreq(path: str, **headers: str) -> WebhookRequest:
    return WebhookRequest(
        url="https://sb.test/webhooks/x/1",
        headers={"content-type": "application/json", **headers},
        body=(FIX / path).read_bytes(),
    )


def freq(path: str) -> WebhookRequest:
    return WebhookRequest(
        url="https://sb.test/webhooks/twilio/1",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=(FIX / path).read_bytes().strip(),
    )


def one(parsed):
    assert len(parsed.messages) == 1 and not parsed.statuses, parsed
    return parsed.messages[0]


# Phone normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("11111111111@c.us", "+11111111111"),
        ("919984351847@s.whatsapp.net", "+919984351847"),
        ("whatsapp:+5511999999999", "+5511999999999"),
        ("972987654321", "+972987654321"),
        ("48XXXXXXXXX ", None),
        ("120363419669512474@g.us", None),
        ("153219082764294@lid", None),
        ("", None),
        ("+12", None),
        ("4915112345678:12@s.whatsapp.net", "+4915112345678"),
    ],
)
def test_normalise_phone(raw, expected):
    assert normalise_phone(raw) == expected


# Meta ---------------------------------------------------------------------------------------

META_MESSAGES = {
    "webhook_message_text.json": ("text", "Body Text"),
    "webhook_message_reply_context.json": ("text", "replied text"),
    "webhook_message_audio.json": ("audio", ""),
    "webhook_message_voice.json": ("voice", ""),
    "webhook_message_video.json": ("video", "caption"),
    "webhook_message_image_media_id.json": ("image", ""),
    "webhook_message_image_with_url.json": ("image", ""),
    "webhook_message_document_caption_forwarded.json": ("document", "caption"),
    "webhook_message_location_chosen.json": ("location", "Facebook HQ"),
    "webhook_message_location_current.json": ("location", ""),
    "webhook_message_reaction.json": ("reaction", "😮"),
}


@pytest.mark.parametrize("name", sorted(META_MESSAGES))
def test_meta_messages(name):
    m = one(meta.PROVIDER.parse(jreq(f"meta/{name}")))
    assert (m.type, m.text) == META_MESSAGES[name]
    assert m.phone == "+972987654321" and m.name == "Test Name" and m.provider_message_id == "wamid.xyzxyz"
    assert not m.outbound


def test_meta_details():
    reply = one(meta.PROVIDER.parse(jreq("meta/webhook_message_reply_context.json")))
    assert reply.reply_to == "wamid.xyzxyz=="
    doc = one(meta.PROVIDER.parse(jreq("meta/webhook_message_document_caption_forwarded.json")))
    assert (doc.media.media_id, doc.media.filename, doc.media.mime_type) == (
        "1234567890987654321",
        "filename.pdf",
        "application/pdf",
    )
    img = one(meta.PROVIDER.parse(jreq("meta/webhook_message_image_with_url.json")))
    assert img.media.url.startswith("https://lookaside.fbsbx.com/") and img.media.media_id == "65463453"
    loc = one(meta.PROVIDER.parse(jreq("meta/webhook_message_location_chosen.json")))
    assert loc.location["latitude"] == 37.4611978 and loc.location["address"].startswith("1 Hacker Way")
    reaction = one(meta.PROVIDER.parse(jreq("meta/webhook_message_reaction.json")))
    assert reaction.reaction_to == "wamid.yzxyzx="
    assert reaction.timestamp == 1697044456


@pytest.mark.parametrize(
    "name,status", [("sent", "sent"), ("delivered", "delivered"), ("read", "read"), ("failed", "failed")]
)
def test_meta_statuses(name, status):
    parsed = meta.PROVIDER.parse(jreq(f"meta/webhook_status_{name}.json"))
    assert not parsed.messages and len(parsed.statuses) == 1
    s = parsed.statuses[0]
    assert (s.provider_message_id, s.status) == ("wamid.xyzxyz", status)
    if status == "failed":
        assert s.error_code == "130472" and "experiment" in s.error_reason


def test_meta_group_status_ignored():
    parsed = meta.PROVIDER.parse(jreq("meta/webhook_status_group.json"))
    assert not parsed.messages and not parsed.statuses and parsed.ignored == ["group status"]


def test_meta_signature_vectors():
    lines = (FIX / "meta/signature_test_vector.txt").read_text().splitlines()
    sigs = [line.split(": ", 1)[1] for line in lines if line.startswith("X-Hub-Signature-256")]
    doc = WebhookRequest(url="", headers={"x-hub-signature-256": sigs[0]}, body=b"test")
    meta.PROVIDER.verify({"app_secret": "secret"}, "", doc)
    real = jreq("meta/webhook_message_text.json", **{"x-hub-signature-256": sigs[1]})
    meta.PROVIDER.verify({"app_secret": "test_app_secret"}, "", real)
    with pytest.raises(WebhookRejected) as bad:
        meta.PROVIDER.verify({"app_secret": "other"}, "", real)
    assert bad.value.status == 403
    tampered = WebhookRequest(url="", headers=real.headers, body=real.body.replace(b"Body Text", b"Body Texx"))
    with pytest.raises(WebhookRejected):
        meta.PROVIDER.verify({"app_secret": "test_app_secret"}, "", tampered)


def test_meta_handshake():
    q = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert meta.PROVIDER.verify_handshake("tok", q) == "1158201444"
    with pytest.raises(WebhookRejected) as exc:
        meta.PROVIDER.verify_handshake("other", q)
    assert exc.value.status == 403


def test_meta_send_requests_match_fixtures():
    creds = {"phone_number_id": "1122", "access_token": "T", "api_base": "https://graph.test/v21.0"}
    text = meta.PROVIDER.build_send(creds, Outgoing(to_phone="+15555555555", text="text-message-content"))
    body = json.loads(text.content)
    expected = json.loads((FIX / "meta/send_text_request.json").read_text())
    assert body == {**expected, "to": "15555555555"}
    assert str(text.url) == "https://graph.test/v21.0/1122/messages" and text.headers["authorization"] == "Bearer T"
    reply = json.loads(
        meta.PROVIDER.build_send(
            creds, Outgoing(to_phone="+1555", text="<TEXT_MSG_CONTENT>", reply_to="<MSGID_OF_PREV_MSG>")
        ).content
    )
    assert reply == {**json.loads((FIX / "meta/send_text_reply_request.json").read_text()), "to": "1555"}
    tpl = json.loads(
        meta.PROVIDER.build_send(
            creds, Outgoing(to_phone="+15555555555", template={"name": "hello_world", "language": "en_US"})
        ).content
    )
    expected_tpl = json.loads((FIX / "meta/send_template_hello_world_request.json").read_text())
    assert {k: tpl[k] for k in expected_tpl} == expected_tpl
    img = json.loads(
        meta.PROVIDER.build_send(
            creds, Outgoing(to_phone="+1555", type="image", media_url="http(s)://image-url")
        ).content
    )
    assert img == {**json.loads((FIX / "meta/send_image_by_link_request.json").read_text()), "to": "1555"}


def test_meta_send_responses():
    ok = httpx.Response(200, content=(FIX / "meta/send_success_response.json").read_bytes())
    assert meta.PROVIDER.read_send_response(ok).provider_message_id == "wamid.gBGGSFcCNEOPAgkO_KJ55r4w_ww"
    bad = httpx.Response(400, content=(FIX / "meta/send_error_response_131030_real.json").read_bytes())
    with pytest.raises(SendError) as exc:
        meta.PROVIDER.read_send_response(bad)
    assert exc.value.permanent and exc.value.code == "131030" and "allowed list" in exc.value.reason
    for name, code, words in [
        ("error_object_131047_reengagement.json", "131047", "24 hours"),
        ("error_object_190_expired_token.json", "190", "expired"),
    ]:
        err = json.loads((FIX / f"meta/{name}").read_text())
        with pytest.raises(SendError) as exc:
            meta.PROVIDER.read_send_response(httpx.Response(400, json={"error": err}))
        assert exc.value.permanent and exc.value.code == code and words in exc.value.reason
    with pytest.raises(SendError) as exc:
        meta.PROVIDER.read_send_response(httpx.Response(429, headers={"Retry-After": "7"}, json={}))
    assert not exc.value.permanent and exc.value.retry_after == 7


# WAHA ---------------------------------------------------------------------------------------


def test_waha_hmac_vector():
    lines = dict(
        line.split("=", 1)
        for line in (FIX / "waha/hmac_example.txt").read_text().splitlines()
        if line[:4] in ("BODY", "KEY=")
    )
    sig = [
        line.split(": ")[1]
        for line in (FIX / "waha/hmac_example.txt").read_text().splitlines()
        if line.startswith("X-Webhook-Hmac:")
    ][0]
    req = WebhookRequest(
        url="", headers={"x-webhook-hmac": sig, "x-webhook-hmac-algorithm": "sha512"}, body=lines["BODY"].encode()
    )
    waha.PROVIDER.verify({}, lines["KEY"], req)
    with pytest.raises(WebhookRejected):
        waha.PROVIDER.verify({}, "wrong-key", req)
    with pytest.raises(WebhookRejected) as missing:
        waha.PROVIDER.verify({}, lines["KEY"], WebhookRequest(url="", headers={}, body=req.body))
    assert missing.value.status == 401


def test_waha_messages():
    image = one(waha.PROVIDER.parse(jreq("waha/webhook_message_image_caption.json")))
    assert (image.type, image.text, image.phone, image.media.mime_type) == (
        "image",
        "Check this out (caption for the media)!",
        "+11111111111",
        "image/jpeg",
    )
    assert image.provider_message_id == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    doc = one(waha.PROVIDER.parse(jreq("waha/webhook_message_document.json")))
    assert (doc.type, doc.media.filename) == ("document", "some-file.pdf")
    reply = one(waha.PROVIDER.parse(jreq("waha/webhook_message_reply_quoted.json")))
    assert (reply.type, reply.text, reply.reply_to) == ("text", "Yes!", "AAAAAAAAAAAAAAAAAAA")
    reaction = one(waha.PROVIDER.parse(jreq("waha/webhook_message_reaction.json")))
    assert (reaction.type, reaction.text, reaction.reaction_to, reaction.phone) == (
        "reaction",
        "🙏",
        "11111111111111111111111111111111",
        "+79111111",
    )
    echo = one(waha.PROVIDER.parse(jreq("waha/webhook_message_text_webjs_full.json")))
    assert echo.outbound and echo.text == "Hi there!" and echo.phone == "+11111111111"


def test_waha_acks_and_ignored():
    ack = waha.PROVIDER.parse(jreq("waha/webhook_message_ack_read.json"))
    assert [(s.provider_message_id, s.status) for s in ack.statuses] == [("4CC5EDD64BC22EBA6D639F2AF571346C", "read")]
    assert waha.PROVIDER.parse(jreq("waha/webhook_message_ack_group_read.json")).ignored == ["group ack"]
    session = waha.PROVIDER.parse(jreq("waha/webhook_session_status_working.json"))
    assert (session.session_state, session.session_detail, session.messages) == ("working", "WORKING", [])
    assert waha.PROVIDER.parse(jreq("waha/webhook_envelope_structure.json")).messages == []
    group = {
        "event": "message",
        "payload": json.loads((FIX / "waha/webhook_group_message_payload_noweb_real.json").read_text()),
    }
    req = WebhookRequest(url="", headers={"content-type": "application/json"}, body=json.dumps(group).encode())
    assert waha.PROVIDER.parse(req).ignored == ["group chat"]


def test_waha_session_config_fixture_uses_our_scheme():
    config = json.loads((FIX / "waha/session_create_webhook_config_hmac.json").read_text())
    assert "key" in config["config"]["webhooks"][0]["hmac"]


def test_waha_send():
    creds = {"base_url": "http://waha.test", "session": "default", "api_key": "K"}
    text = waha.PROVIDER.build_send(creds, Outgoing(to_phone="+12132132130", text="Hi there!"))
    assert json.loads(text.content) == json.loads((FIX / "waha/send_text_request.json").read_text())
    assert str(text.url) == "http://waha.test/api/sendText" and text.headers["x-api-key"] == "K"
    img = json.loads(
        waha.PROVIDER.build_send(
            creds,
            Outgoing(
                to_phone="+11111111111",
                type="image",
                text="string",
                media_url="https://github.com/devlikeapro/waha/raw/core/examples/dev.likeapro.jpg",
                media_mime="image/jpeg",
                media_filename="filename.jpeg",
            ),
        ).content
    )
    assert img == json.loads((FIX / "waha/send_image_request_url.json").read_text())
    for name, kind in [("send_file_request_url.json", "document"), ("send_voice_request_url.json", "voice")]:
        expected = json.loads((FIX / f"waha/{name}").read_text())
        built = waha.PROVIDER.build_send(
            creds,
            Outgoing(
                to_phone="+11111111111",
                type=kind,
                text=expected.get("caption", ""),
                media_url=expected["file"]["url"],
                media_mime=expected["file"]["mimetype"],
                media_filename=expected["file"].get("filename", ""),
            ),
        )
        assert built.url.path == ("/api/sendFile" if kind == "document" else "/api/sendVoice")
        assert json.loads(built.content)["file"]["url"] == expected["file"]["url"]
    ok = httpx.Response(201, content=(FIX / "waha/send_text_response_noweb_real.json").read_bytes())
    assert waha.PROVIDER.read_send_response(ok).provider_message_id == "3EB08A6895830F110A5E4D"


# Whapi --------------------------------------------------------------------------------------


def test_whapi_messages():
    m = one(whapi.PROVIDER.parse(jreq("whapi/webhook_messages_text_incoming.json")))
    assert (m.type, m.text, m.phone, m.name, m.outbound) == ("text", "Hello world", "+919984351847", "Gerald", False)
    for name in ("webhook_messages_fromme_api.json", "webhook_messages_fromme_mobile.json"):
        echo = one(whapi.PROVIDER.parse(jreq(f"whapi/{name}")))
        assert echo.outbound and echo.phone == "+919984351847"
    image = whapi.PROVIDER._message  # the partial fixture is a bare message object
    body = {"messages": [json.loads((FIX / "whapi/message_image_incoming_partial.json").read_text())]}
    req = WebhookRequest(url="", headers={"content-type": "application/json"}, body=json.dumps(body).encode())
    img = one(whapi.PROVIDER.parse(req))
    assert (img.type, img.text, img.media.mime_type) == ("image", "Hello world", "image/jpeg") and image


def test_whapi_statuses_and_secret():
    for name, status in [("delivered", "delivered"), ("read", "read")]:
        parsed = whapi.PROVIDER.parse(jreq(f"whapi/webhook_statuses_{name}.json"))
        assert [(s.provider_message_id, s.status) for s in parsed.statuses] == [
            ("YhNqCveDWW90_t8lzrW25w-wO4Twl0rVw", status)
        ]
    req = jreq("whapi/webhook_statuses_read.json", **{"x-webhook-secret": "s3cret"})
    whapi.PROVIDER.verify({}, "s3cret", req)
    whapi.PROVIDER.verify({}, "s3cret", WebhookRequest(url="", headers={}, body=b"", query={"token": "s3cret"}))
    with pytest.raises(WebhookRejected):
        whapi.PROVIDER.verify({}, "other", req)


def test_whapi_send():
    creds = {"token": "T", "api_base": "https://gate.test"}
    built = whapi.PROVIDER.build_send(creds, Outgoing(to_phone="+919984351847", text="Simple text message"))
    expected = json.loads((FIX / "whapi/send_text_request.json").read_text())
    assert json.loads(built.content) == {**expected, "to": "919984351847"}
    assert str(built.url) == "https://gate.test/messages/text" and built.headers["authorization"] == "Bearer T"
    ok = httpx.Response(200, content=(FIX / "whapi/send_text_response_assembled.json").read_bytes())
    assert whapi.PROVIDER.read_send_response(ok).provider_message_id == "yqJRppZk7BI-wNoTwl0rVw"
    assert (
        json.loads((FIX / "whapi/settings_patch_webhook_request.json").read_text())["webhooks"][0]["events"][0]["type"]
        == "messages"
    )


# Twilio -------------------------------------------------------------------------------------

TWILIO_INBOUND = {
    "webhook_inbound_text_assembled.txt": ("text", "Hello, I need help"),
    "webhook_inbound_reply_assembled.txt": ("text", "Yes, that one"),
    "webhook_inbound_image_caption_assembled.txt": ("image", "Look at this (caption)"),
    "webhook_inbound_document_assembled.txt": ("document", ""),
    "webhook_inbound_voice_assembled.txt": ("voice", ""),
}


@pytest.mark.parametrize("name", sorted(TWILIO_INBOUND))
def test_twilio_inbound(name):
    m = one(twilio.PROVIDER.parse(freq(f"twilio/{name}")))
    assert (m.type, m.text) == TWILIO_INBOUND[name]
    assert m.phone == "+5511999999999" and m.name == "Jane Doe"
    if m.type != "text":
        assert m.media.url.startswith("https://api.twilio.com/") and m.media.mime_type
    if "reply" in name:
        assert m.reply_to == "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"


@pytest.mark.parametrize("status", ["sent", "delivered", "read", "failed_63016"])
def test_twilio_statuses(status):
    parsed = twilio.PROVIDER.parse(freq(f"twilio/webhook_status_{status}_assembled.txt"))
    s = parsed.statuses[0]
    assert not parsed.messages and s.provider_message_id == "SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    assert s.status == status.split("_")[0]
    if status.startswith("failed"):
        assert s.error_code == "63016" and "24-hour window" in s.error_reason


def test_twilio_signature_vectors():
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
        ("Caller", "+14158675309"),
    ]
    assert (
        twilio.signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params)
        == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )
    assert (
        twilio.signature("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", params)
        == "kvajT1Ptam85bY51eRf/AJRuM3w="
    )
    dup = [("Digits", "5678"), ("Digits", "1234"), ("Sid", "CA123"), ("SidAccount", "AC123")]
    assert (
        twilio.signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", dup) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    )
    body = (FIX / "twilio/webhook_inbound_text_assembled.txt").read_bytes().strip()
    req = WebhookRequest(
        url="https://example.com/webhooks/twilio/whatsapp",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": "ZtX0/SDfRhW0ghbniVJTnFbM/EE=",
        },
        body=body,
    )
    twilio.PROVIDER.verify({"auth_token": "test_auth_token"}, "", req)
    port = WebhookRequest(url="https://example.com:443/webhooks/twilio/whatsapp", headers=req.headers, body=body)
    twilio.PROVIDER.verify({"auth_token": "test_auth_token"}, "", port)
    with pytest.raises(WebhookRejected):
        twilio.PROVIDER.verify({"auth_token": "wrong"}, "", req)


def test_twilio_send_requests():
    creds = {"account_sid": "ACX", "auth_token": "tok", "from_number": "+14155238886", "api_base": "https://tw.test"}
    text = twilio.PROVIDER.build_send(
        creds,
        Outgoing(
            to_phone="+5511999999999",
            text="Hello from the agent",
            status_callback="https://example.com/webhooks/twilio/status",
        ),
    )
    expected = (FIX / "twilio/send_text_request_assembled.txt").read_text().strip().splitlines()[-1]
    assert text.content.decode() == expected
    assert str(text.url) == "https://tw.test/2010-04-01/Accounts/ACX/Messages.json"
    assert text.headers["authorization"].startswith("Basic ")
    media = twilio.PROVIDER.build_send(
        creds,
        Outgoing(
            to_phone="+5511999999999",
            type="document",
            text="caption text",
            media_url="https://example.com/files/invoice.pdf",
        ),
    )
    assert (
        media.content.decode() == (FIX / "twilio/send_media_request_assembled.txt").read_text().strip().splitlines()[-1]
    )
    tpl = twilio.PROVIDER.build_send(
        creds,
        Outgoing(
            to_phone="+5511999999999",
            template={"content_sid": "HXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "variables": {"1": "12/1", "2": "3pm"}},
        ),
    )
    assert (
        tpl.content.decode()
        == (FIX / "twilio/send_template_request_assembled.txt").read_text().strip().splitlines()[-1]
    )


def test_twilio_send_responses():
    ok = httpx.Response(201, content=(FIX / "twilio/send_message_response_real_sms.json").read_bytes())
    assert twilio.PROVIDER.read_send_response(ok).provider_message_id == "SM29f4f980778e4621b72df75ac82f5000"
    bad = httpx.Response(400, content=(FIX / "twilio/send_error_response_21603_real.json").read_bytes())
    with pytest.raises(SendError) as exc:
        twilio.PROVIDER.read_send_response(bad)
    assert exc.value.permanent and exc.value.code == "21603"
    assert "63016" in (FIX / "twilio/error_63016_doc_excerpt.txt").read_text()
    assert "24-hour" in twilio.explain("63016", "")


def test_malformed_bodies_are_rejected():
    with pytest.raises(WebhookRejected) as exc:
        meta.PROVIDER.parse(WebhookRequest(url="", headers={"content-type": "application/json"}, body=b"{not json"))
    assert exc.value.status == 400
    with pytest.raises(WebhookRejected) as exc:
        waha.PROVIDER.parse(WebhookRequest(url="", headers={"content-type": "text/plain"}, body=b"{}"))
    assert exc.value.status == 415
    with pytest.raises(WebhookRejected):
        twilio.PROVIDER.parse(WebhookRequest(url="", headers={"content-type": "application/json"}, body=b"{}"))
    with pytest.raises(WebhookRejected):
        meta.PROVIDER.parse(WebhookRequest(url="", headers={"content-type": "application/json"}, body=b"[1,2]"))


# Buttons: a tapped button is the customer's answer (order confirmation reads it as text) ------


@pytest.mark.parametrize(
    "name,text,button",
    [
        ("meta/webhook_message_interactive_button_reply_assembled.json", "Oui, je confirme", "order-42-confirm"),
        ("meta/webhook_message_template_button_assembled.json", "Confirmar", "CONFIRM"),
    ],
)
def test_meta_button_replies_are_text(name, text, button):
    m = one(meta.PROVIDER.parse(jreq(name)))
    assert (m.type, m.text, m.button) == ("text", text, button)
    assert m.phone == "+972987654321" and not m.outbound


def test_twilio_button_reply_is_text():
    m = one(twilio.PROVIDER.parse(freq("twilio/webhook_inbound_button_assembled.txt")))
    assert (m.type, m.text, m.button) == ("text", "Cancel", "order-42-cancel")
    assert m.phone == "+5511999999999"
