"""Node server libraries (npm, tests/compat/package.json) and PHP's google/recaptcha (Debian's
php-google-recaptcha) against Haechi's siteverify dialects: accepted once, the replay refused
with the vendor's code."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPLAY_CODE, NodeRunner, Server, need

# ------------------------------------------------------------------------------ Node


@pytest.mark.parametrize(
    ("lib", "vendor", "api"),
    [
        ("hcaptcha", "hcaptcha", None),
        ("recaptcha2", "recaptcha", "recaptcha-v2"),
        ("express-recaptcha-v2", "recaptcha", "recaptcha-v2"),
        ("recaptcha-node-v2", "recaptcha", "recaptcha-v2"),
    ],
)
def test_node_library(
    node: NodeRunner, server: Server, lib: str, vendor: str, api: str | None
) -> None:
    token = server.mint(**({"api": api} if api else {}))
    first = node(lib, token)
    assert first["ok"] is True, first
    second = node(lib, token)
    assert second["ok"] is False and second["codes"] == [REPLAY_CODE[vendor]], second


@pytest.mark.parametrize("lib", ["express-recaptcha-v3", "recaptcha-node-v3"])
def test_node_library_v3_gets_score_and_action(node: NodeRunner, server: Server, lib: str) -> None:
    token = server.mint(action="submit")
    first = node(lib, token)
    assert first["ok"] is True, first
    assert first["fields"]["action"] == "submit" and 0.0 <= first["fields"]["score"] <= 1.0
    assert node(lib, token)["codes"] == [REPLAY_CODE["recaptcha"]]


def test_nestlab_google_recaptcha_v2_and_v3(node: NodeRunner, server: Server) -> None:
    v2 = server.mint(api="recaptcha-v2")
    first = node("nestlab-google-recaptcha", v2)
    assert first["ok"] is True and first["fields"].get("score") is None, first
    assert node("nestlab-google-recaptcha", v2)["codes"] == [REPLAY_CODE["recaptcha"]]
    # v3: the library takes score + action as the sign of v3 and checks the action.
    v3 = server.mint(action="login")
    second = node("nestlab-google-recaptcha", v3, action="login")
    assert second["ok"] is True and second["fields"]["action"] == "login", second
    wrong = node("nestlab-google-recaptcha", server.mint(action="login"), action="signup")
    assert wrong["ok"] is False and wrong["codes"] == ["forbidden-action"], wrong


# ------------------------------------------------------------------------------ PHP

PHP_AUTOLOAD = Path("/usr/share/php/ReCaptcha/autoload.php")
PHP = """<?php
require '/usr/share/php/ReCaptcha/autoload.php';
[$_, $url, $secret, $token, $action] = $argv;
$recaptcha = new \\ReCaptcha\\ReCaptcha($secret, new \\ReCaptcha\\RequestMethod\\CurlPost(null, $url));
if ($action !== '-') { $recaptcha->setExpectedAction($action)->setScoreThreshold(0.0); }
$response = $recaptcha->verify($token);
echo json_encode(['ok' => $response->isSuccess(), 'codes' => $response->getErrorCodes(),
                  'score' => $response->getScore(), 'action' => $response->getAction()]), "\\n";
"""


def _php(server: Server, token: str, action: str = "-") -> dict[str, object]:
    import json

    if shutil.which("php") is None or not PHP_AUTOLOAD.is_file():
        need(
            "php-cli and google/recaptcha", "apt-get install php-cli php-curl php-google-recaptcha"
        )
    url = server.url + "/recaptcha/api/siteverify"
    done = subprocess.run(
        ["php", "-r", PHP.removeprefix("<?php\n"), "--", url, server.secret, token, action],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_php_google_recaptcha_v2(server: Server) -> None:
    token = server.mint(api="recaptcha-v2")
    first = _php(server, token)
    assert first["ok"] is True and first["score"] is None, first
    assert _php(server, token)["codes"] == [REPLAY_CODE["recaptcha"]]


def test_php_google_recaptcha_v3_checks_action(server: Server) -> None:
    token = server.mint(action="homepage")
    first = _php(server, token, "homepage")
    assert first["ok"] is True and first["action"] == "homepage", first
    # The library adds its own action check's code: a failure body names no action (Google's neither).
    assert _php(server, token, "homepage")["codes"] == [REPLAY_CODE["recaptcha"], "action-mismatch"]
    wrong = _php(server, server.mint(action="login"), "homepage")
    assert wrong["ok"] is False and wrong["codes"] == ["action-mismatch"]
