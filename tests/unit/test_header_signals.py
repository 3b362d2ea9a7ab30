"""Header consistency at /v1/challenge (``signals.header_mismatch``): what real browsers sent
(captured 2026-12-08 from a normally launched Chromium 156, Firefox ESR 153 and Playwright on
this machine) never fires; copied agents and replaced agents do."""

from __future__ import annotations

import pytest

from haechi.risk.signals import POINTS, header_mismatch
from haechi.risk.telemetry import parse_telemetry
from tests.unit.test_risk_combined import approach, score, telemetry

CHROMIUM = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
CH_UA = '"Not:A-Brand";v="8", "Chromium";v="156"'
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"
WIN_131 = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
ANDROID = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36"
WEBVIEW = "Mozilla/5.0 (Linux; Android 14; Pixel 8; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/156.0.0.0 Mobile Safari/537.36"
HOST = "127.0.0.1:8918"


@pytest.mark.parametrize(
    "headers",
    [
        # Captured: a normally launched Chromium's fetch, and Firefox ESR's.
        (CHROMIUM, CH_UA, '"Linux"', "cors", "http://127.0.0.1:8918", HOST),
        (FIREFOX, None, None, "cors", "http://127.0.0.1:8918", HOST),
        # An https page to a proxied server, Chromium on Android, its "desktop site" mode.
        (CHROMIUM, CH_UA, '"Linux"', "cors", "https://shop.example", "captcha.example"),
        (ANDROID, CH_UA, '"Android"', "cors", "https://shop.example", "captcha.example"),
        (CHROMIUM, CH_UA, '"Android"', "cors", "https://shop.example", "captcha.example"),
        # Not judged: an insecure page to a server it cannot know is secure; a WebView; no agent;
        # agents that name no judged browser (HeadlessChrome is the widget's to catch).
        (CHROMIUM, None, None, None, "http://intranet.example", "10.0.0.5:8080"),
        (WEBVIEW, None, None, "cors", "https://shop.example", "captcha.example"),
        (None, None, None, None, "https://shop.example", "captcha.example"),
        ("python-httpx/0.27", None, None, None, "https://shop.example", "captcha.example"),
        (CHROMIUM.replace(" Chrome/", " HeadlessChrome/"), CH_UA, '"Linux"', "cors", None, HOST),
    ],
)
def test_real_browsers_and_unjudged_requests_do_not_fire(headers: tuple[str | None, ...]) -> None:
    assert header_mismatch(*headers) is False


@pytest.mark.parametrize(
    "headers",
    [
        # Captured: Playwright with a desktop Chrome 131 agent (Client Hints stay at 156).
        (WIN_131, CH_UA, '"Windows"', "cors", "http://127.0.0.1:8918", HOST),
        # The agent's platform against the Client Hint.
        (CHROMIUM, CH_UA, '"Windows"', "cors", "https://shop.example", "captcha.example"),
        # An HTTP client with a copied agent (the zoo's http/* families): no Fetch Metadata,
        # no Client Hints, to this server on loopback or from an https page.
        (WIN_131, None, None, None, "http://localhost", "127.0.0.1:8080"),
        (CHROMIUM, None, None, None, "https://shop.example", "captcha.example"),
        (FIREFOX, None, None, None, "https://shop.example", "captcha.example"),
        # Client Hints missing where Fetch Metadata came: not Chromium.
        (CHROMIUM, None, None, "cors", "https://shop.example", "captcha.example"),
    ],
)
def test_copied_and_replaced_agents_fire(headers: tuple[str | None, ...]) -> None:
    assert header_mismatch(*headers) is True


def test_the_rule_is_a_task_not_a_block() -> None:
    from haechi.risk.scoring import CombinedScorer, RiskInput
    from tests.unit.test_risk_combined import FixedModel

    scorer = CombinedScorer(FixedModel(5))
    tele = parse_telemetry(telemetry(approach()))
    result = scorer.score(RiskInput(telemetry=tele, request_rules=("header-mismatch",)))
    assert result.risk == 5 + POINTS["header-mismatch"] < 91
    assert "header-mismatch" in result.reasons
    assert score(telemetry(approach())).reasons == ()
