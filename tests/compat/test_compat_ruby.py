"""Ruby's recaptcha gem (Debian's ruby-recaptcha), as a Rails controller's `verify_recaptcha`
uses it, against the reCAPTCHA dialect (the gem sends GET with a query string)."""

from __future__ import annotations

import json
import shutil
import subprocess

from .conftest import COMPAT, REPLAY_CODE, Server, need


def test_ruby_recaptcha_verify_recaptcha(server: Server) -> None:
    if shutil.which("ruby") is None:
        need("ruby and ruby-recaptcha", "apt-get install ruby-recaptcha")
    token = server.mint(api="recaptcha-v2")
    done = subprocess.run(
        [
            "ruby",
            str(COMPAT / "ruby" / "verify.rb"),
            server.url + "/recaptcha/api/siteverify",
            server.sitekey,
            server.secret,
            token,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0 and "cannot load such file -- recaptcha" in done.stderr:
        need("ruby-recaptcha", "apt-get install ruby-recaptcha")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["first"] is True and result["second"] is False, result
    assert result["codes"] == [REPLAY_CODE["recaptcha"]], result
