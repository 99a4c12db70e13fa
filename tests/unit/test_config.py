"""Configuration: precedence of flags, environment and TOML, and one clear message per mistake."""

import re
from pathlib import Path

import pytest

from fluoroscope.config import Address, load
from fluoroscope.errors import ConfigError


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fluoroscope.toml"
    path.write_text(text)
    return path


def test_defaults_need_nothing(tmp_path):
    """With nothing given, the collector listens where the X-Ray daemon does, samples nothing."""
    config = load({}, {}, None)

    assert config.udp == Address("127.0.0.1", 2000)
    assert config.http == Address("127.0.0.1", 2000)
    assert config.head_sampling == "off"
    assert config.tail_sampling_rules == ()


def test_flags_beat_the_environment_which_beats_the_file(tmp_path):
    """defaults < TOML < FLUOROSCOPE_* < flags."""
    path = write_toml(tmp_path, '[sampling]\nhead = "honour"\n[listen]\nudp = "0.0.0.0:2001"\n')
    environ = {"FLUOROSCOPE_SAMPLING_HEAD": "resample", "FLUOROSCOPE_UDP": "0.0.0.0:2002"}

    from_file = load({}, {}, path)
    from_env = load({}, environ, path)
    from_flag = load({"head_sampling": "off"}, environ, path)

    assert (from_file.head_sampling, from_file.udp.port) == ("honour", 2001)
    assert (from_env.head_sampling, from_env.udp.port) == ("resample", 2002)
    assert from_flag.head_sampling == "off"


def test_a_bad_value_names_its_option_and_source(tmp_path):
    """The message says which setting, where it came from, and what it accepts."""
    with pytest.raises(ConfigError, match=r"FLUOROSCOPE_SAMPLING_HEAD 'sometimes'.*off, honour"):
        load({}, {"FLUOROSCOPE_SAMPLING_HEAD": "sometimes"}, None)
    with pytest.raises(ConfigError, match=r"--udp 'nowhere'.*HOST:PORT"):
        load({"udp": "nowhere"}, {}, None)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("ftp://collector:4317", "grpc://, http:// or https://"),
        ("grpc://collector:99999", "a port from 1 to 65535"),
        ("http://collector:abc/v1/traces", "a port from 1 to 65535"),
        ("collector", "a host and a port"),
    ],
)
def test_an_export_endpoint_is_checked_at_start_up(tmp_path, value, said):
    """Checked with every other option, wherever it comes from, not when the exporter starts."""
    path = write_toml(tmp_path, f"[export]\notlp = '{value}'\n")

    with pytest.raises(ConfigError, match=rf"--export-otlp '{re.escape(value)}'.*{said}"):
        load({"export_otlp": value}, {}, None)
    with pytest.raises(ConfigError, match=rf"export\.otlp.*{said}"):
        load({}, {}, path)
    assert load({"export_otlp": "grpc://collector:4317"}, {}, None).export_otlp == (
        "grpc://collector:4317"
    )


def test_an_unknown_key_in_the_file_is_refused(tmp_path):
    """A typo in the file stops start-up instead of being ignored."""
    path = write_toml(tmp_path, "[sampling]\nhed = 'off'\n")

    with pytest.raises(ConfigError, match=r"unknown option 'sampling\.hed'"):
        load({}, {}, path)


def test_tail_rules_come_as_toml_tables_or_json(tmp_path):
    """An array of tables in the file, the same as JSON in the environment."""
    path = write_toml(
        tmp_path,
        '[[sampling.tail.rules]]\nname = "faults"\nfilter = "fault"\n'
        '[[sampling.tail.rules]]\nname = "rest"\nkeep = 0.1\n',
    )
    environ = {"FLUOROSCOPE_SAMPLING_TAIL_RULES": '[{"name": "slow", "filter": "duration > 2"}]'}

    assert load({}, {}, path).tail_sampling_rules == (
        {"name": "faults", "filter": "fault"},
        {"name": "rest", "keep": 0.1},
    )
    assert load({}, environ, None).tail_sampling_rules == (
        {"name": "slow", "filter": "duration > 2"},
    )
    with pytest.raises(ConfigError, match="JSON list of objects"):
        load({}, {"FLUOROSCOPE_SAMPLING_TAIL_RULES": "faults"}, None)
    with pytest.raises(ConfigError, match="list of tables"):
        load({}, {"FLUOROSCOPE_SAMPLING_TAIL_RULES": '["fault"]'}, None)


def test_numbers_are_range_checked():
    """Out-of-range numbers are refused with the range."""
    with pytest.raises(ConfigError, match=r"from 0\.1 to 3600"):
        load({}, {"FLUOROSCOPE_SAMPLING_DECISION_WAIT_S": "0"}, None)


def test_the_example_configuration_loads():
    """examples/config.toml stays valid as options change."""
    example = Path(__file__).parents[2] / "examples" / "config.toml"

    config = load({}, {}, example)

    assert config.data_dir == load({}, {}, None).data_dir  # left at its default, for any user
    assert config.otlp_indexed_attributes == frozenset({"tenant", "order.id"})
    assert config.head_sampling == "off"


def test_store_sync_is_normal_unless_turned_off():
    """Waiting for the disk at checkpoints is the default; off must be asked for."""
    assert load({}, {}, None).store_sync == "normal"
    assert load({}, {"FLUOROSCOPE_STORE_SYNC": "OFF"}, None).store_sync == "off"
    with pytest.raises(ConfigError, match=r"FLUOROSCOPE_STORE_SYNC 'full'.*normal, off"):
        load({}, {"FLUOROSCOPE_STORE_SYNC": "full"}, None)


def test_the_store_has_no_size_bound_unless_given_one():
    assert load({}, {}, None).store_max_bytes == 0
    assert (
        load({}, {"FLUOROSCOPE_STORE_MAX_BYTES": "10737418240"}, None).store_max_bytes == 10 << 30
    )
    with pytest.raises(ConfigError, match="FLUOROSCOPE_STORE_MAX_BYTES"):
        load({}, {"FLUOROSCOPE_STORE_MAX_BYTES": "-1"}, None)
