"""Settings: parsing, precedence, errors, and the README table kept current."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickloop.settings_command import README, readme_with_table
from tracker.settings import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.kafka.bootstrap is None
    assert settings.kafka.topic == "clickloop.events"
    assert settings.lake == settings.state_dir / "lake"
    assert settings.collector.cookie_name == "cl_vid"


def test_environment_parsing() -> None:
    settings = Settings.from_env({
        "CLICKLOOP_STATE_DIR": "/tmp/x",
        "CLICKLOOP_LAKE_DIR": "/data/lake",
        "CLICKLOOP_KAFKA_BOOTSTRAP": "k1:9092,k2:9092",
        "CLICKLOOP_ALLOWED_ORIGINS": "https://a.example, https://b.example",
        "CLICKLOOP_HONOUR_DNT": "off",
        "CLICKLOOP_KAFKA_PARTITIONS": "6",
        "CLICKLOOP_HOLDOUT_SHARE": "0.25",
    })
    assert settings.state_dir == Path("/tmp/x")
    assert settings.lake == Path("/data/lake")
    assert settings.kafka.bootstrap == "k1:9092,k2:9092"
    assert settings.collector.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.collector.honour_dnt is False
    assert settings.kafka.partitions == 6
    assert settings.personalization.holdout_share == 0.25


@pytest.mark.parametrize(("name", "value"), [
    ("CLICKLOOP_KAFKA_PARTITIONS", "three"),
    ("CLICKLOOP_HONOUR_GPC", "maybe"),
    ("CLICKLOOP_HOLDOUT_SHARE", "ten percent"),
    ("CLICKLOOP_KAFKA_JIT", "fast"),
])
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert str(info.value).startswith(f"{name}={value!r}")


def test_a_choice_is_one_of_its_values() -> None:
    assert Settings.from_env({}).kafka.jit == "quick"
    assert Settings.from_env({"CLICKLOOP_KAFKA_JIT": " full "}).kafka.jit == "full"
    with pytest.raises(SettingsError, match="expected one of quick, full"):
        Settings.from_env({"CLICKLOOP_KAFKA_JIT": "Full"})


def test_config_file_below_environment(tmp_path: Path) -> None:
    config = tmp_path / "clickloop.toml"
    config.write_text('kafka_topic = "from.file"\nkafka_partitions = 9\n'
                      'allowed_origins = ["https://f.example"]\n')
    settings = Settings.from_env({"CLICKLOOP_CONFIG_FILE": str(config),
                                  "CLICKLOOP_KAFKA_PARTITIONS": "2"})
    assert settings.kafka.topic == "from.file"
    assert settings.kafka.partitions == 2
    assert settings.collector.allowed_origins == ("https://f.example",)


def test_unreadable_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(SettingsError, match="CLICKLOOP_CONFIG_FILE"):
        Settings.from_env({"CLICKLOOP_CONFIG_FILE": str(bad)})


def test_readme_settings_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert readme_with_table(text) == text, (
        "README's settings table is stale: run `clickloop settings --write-readme`"
    )
