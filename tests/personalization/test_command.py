"""``clickloop personalization check-rules`` and the API command's refusal of a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickloop.cli import main


def test_check_rules_lists_the_slots_of_a_good_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["personalization", "check-rules"]) == 0
    out = capsys.readouterr().out
    assert "hero: default, discount, free_shipping, bestsellers (default default)" in out


def test_check_rules_names_line_and_reason(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nslots:\n  hero:\n    default:\n      variant: default\n"
                    "    variants:\n      - variant: vip\n        when: {segment: vips}\n"
                    "        text: hi\n")
    assert main(["personalization", "check-rules", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:8:25: slots.hero.variants[0].when.segment: unknown value 'vips'" in err


def test_the_api_refuses_to_start_on_a_bad_rules_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nslots: []\n")
    monkeypatch.setenv("CLICKLOOP_RULES_FILE", str(path))
    monkeypatch.setenv("CLICKLOOP_STATE_DIR", str(tmp_path / "state"))
    assert main(["personalization", "api"]) == 2
    assert f"{path}:2:8: slots: expected a mapping" in capsys.readouterr().err
