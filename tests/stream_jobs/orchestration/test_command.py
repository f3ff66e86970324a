"""``clickloop airflow``: the environment it gives Airflow, its status view and its refusals
(the real DAG runs are in test_web_logs_run.py)."""

from __future__ import annotations

import os
import shlex

from clickloop import cli
from tracker.settings import PROJECT_ROOT


def run_cli(args: list[str], env: dict[str, str], monkeypatch) -> int:
    for key in [k for k in os.environ if k.startswith("CLICKLOOP_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return cli.main(args)


def test_env_points_airflow_at_our_dags(tmp_path, monkeypatch, capsys):
    state = tmp_path / "my state"
    code = run_cli(["airflow", "env"], {"CLICKLOOP_STATE_DIR": str(state)}, monkeypatch)
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    exports = dict(shlex.split(line)[1].split("=", 1) for line in out if line.startswith("export"))
    assert exports == {
        "AIRFLOW_HOME": str(state / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "CLICKLOOP_STATE_DIR": str(state),
    }
    assert out[-1] == (f"# landing={state / 'landing'} archive={state / 'archive'} "
                       f"lake={state / 'lake'}")


def test_home_option_overrides_the_default(tmp_path, monkeypatch, capsys):
    home = tmp_path / "af"
    run_cli(["airflow", "--home", str(home), "env"], {"CLICKLOOP_STATE_DIR": str(tmp_path)},
            monkeypatch)
    assert f"export AIRFLOW_HOME={home}" in capsys.readouterr().out


def test_status_lists_waiting_files_and_manifest_states(tmp_path, monkeypatch, capsys):
    landing = tmp_path / "landing"
    (landing / "2015").mkdir(parents=True)
    (landing / "2015" / "access.log").write_text("x\n")
    (landing / "upload.log.part").write_text("x\n")
    manifest = tmp_path / "archive" / "_manifest"
    manifest.mkdir(parents=True)
    (manifest / "a.json").write_text('{"state": "done"}')
    (manifest / "b.json").write_text('{"state": "done"}')
    (manifest / "c.json").write_text('{"state": "rejected"}')
    code = run_cli(["airflow", "status"], {"CLICKLOOP_STATE_DIR": str(tmp_path),
                                          "CLICKLOOP_LANDING_MIN_AGE_S": "0"}, monkeypatch)
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        f"landing {landing}: 1 file(s) ready, 0 still fresh",
        "  2015/access.log",
        f"manifest {manifest}: 2 done, 1 rejected",
    ]


def test_run_refuses_conf_that_is_not_json(tmp_path, monkeypatch, capsys):
    code = run_cli(["airflow", "run", "web_logs", "--conf", "{landing_dir: x}"],
                   {"CLICKLOOP_STATE_DIR": str(tmp_path)}, monkeypatch)
    assert code == 2
    assert "--conf is not valid JSON" in capsys.readouterr().err
