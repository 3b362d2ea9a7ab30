"""What a real browser sends: the widget's telemetry conforms to docs/telemetry.md (the JSON
schema, and the server's reader finds no anomaly), and it carries no key values and nothing
typed in a password field."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from haechi.risk.telemetry import parse_telemetry
from tests.e2e import test_widget_browser as base
from tests.e2e.test_widget_browser import ROOT, Haechi, Tab, human_moves, result_of

browser, haechi, tab = base.browser, base.haechi, base.tab
SCHEMA = json.loads((ROOT / "docs/schemas/telemetry.v2.json").read_text())


def test_sent_telemetry_conforms_and_keeps_secrets(haechi: Haechi, tab: Tab) -> None:
    page = tab.page
    sent: list[tuple[str, dict[str, Any]]] = []

    def capture(request: Any) -> None:
        if "/v1/" in request.url and request.method == "POST":
            sent.append((request.url.rsplit("/", 1)[-1], json.loads(request.post_data)))

    page.on("request", capture)
    page.goto(haechi.url.replace("127.0.0.1", "localhost") + "/demo?mode=invisible")
    human_moves(page)
    page.mouse.wheel(0, 120)
    page.click("#name")
    page.keyboard.type("Kim")
    page.click("#email")
    page.keyboard.type("k@example.com")
    page.click("#password")
    page.keyboard.type("zq-secret-9")
    page.keyboard.press("Enter")  # submits: invisible mode runs now
    assert result_of(page)["success"] is True

    assert [name for name, _ in sent] == ["challenge", "solve"]
    for _name, body in sent:
        telemetry = body["telemetry"]
        jsonschema.validate(telemetry, SCHEMA)
        parsed = parse_telemetry(telemetry)
        assert parsed.anomalies == 0 and parsed.columns is not None, telemetry
        # The packed events hold kinds, times, positions and buttons only (the schema says
        # so); everything else is looked through for what was typed.
        assert set(telemetry["events"]) <= {"k", "d", "p"}
        raw = json.dumps({**telemetry, "events": None})
        for secret in ("zq-secret-9", "KeyK", '"k"', "Enter"):
            assert secret not in raw
    solve = sent[1][1]["telemetry"]
    assert solve["v"] == 2
    kinds = set(solve["events"]["k"])
    assert {"m", "d", "u", "s"} <= kinds, kinds
    assert solve["pointer"] == "mouse" and solve["viewport"] == [1000, 800]
    # "Kim" and the email: one down and one up per key. The password, and the Enter pressed
    # in the password field, add nothing.
    typed = len("Kim") + len("k@example.com")
    assert len([k for k in solve["keys"] if k[1] == "d"]) == typed
    assert len([k for k in solve["keys"] if k[1] == "u"]) == typed
    assert solve["hints"]["webdriver"] is True
