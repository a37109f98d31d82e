"""One validated settings object: every knob documented, bad values named, log level honoured."""

from __future__ import annotations

import logging

import pytest
from helpers import ROOT, run_qa

from qa.config import Settings, SettingsError, env_name, get_settings


def test_readme_configuration_table_lists_every_setting_with_its_default():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[2].strip() for line in table.splitlines() if line.startswith("| `")
    }
    for field, info in Settings.model_fields.items():
        name = env_name(field)
        assert name in rows, f"{name} missing from the README's Configuration table"
        default = info.default
        if default is not None and not hasattr(default, "get_secret_value"):
            shown = str(int(default) if isinstance(default, float) and default.is_integer() else default)
            assert shown in rows[name].replace(",", ""), f"{name}: README says {rows[name]}, code says {shown}"


def test_overrides_are_validated_too():
    with pytest.raises(SettingsError, match="QA_MAX_PASSAGE_CHARS=3 .*100 to 5000"):
        get_settings(max_passage_chars=3)
    with pytest.raises(SettingsError, match="--backend=bogus .*onnx-int8, onnx, torch"):
        get_settings(flags={"backend": "--backend"}, backend="bogus")
    assert get_settings(top_k=50).top_k == 50


def test_log_level_is_honoured(index_dir):
    root = logging.getLogger()
    level, handler_levels = root.level, [(h, h.level) for h in root.handlers]
    try:
        assert run_qa("docs", "--index-dir", str(index_dir), env={"QA_LOG_LEVEL": "debug"}).returncode == 0
        assert root.level == logging.DEBUG
        assert run_qa("docs", "--index-dir", str(index_dir), env={"QA_LOG_LEVEL": "ERROR"}).returncode == 0
        assert root.level == logging.ERROR
    finally:
        root.setLevel(level)
        for handler, handler_level in handler_levels:
            handler.setLevel(handler_level)
