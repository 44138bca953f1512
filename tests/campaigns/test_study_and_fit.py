"""`avalab study` (a parameter map on dask workers: table, heat maps, page) and `avalab fit`
(named parameters recovered from simulated runs whose true values the rig file changed)."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.timeout(900)

ESA = "absorption.4I11/2->4F3/2.peak_cross_section_m2"
#: the Urbach steepness of the 1064 nm GSA wing: how fast the ground-state absorption grows with T
GSA_STEEPNESS = "absorption.4I9/2->4F3/2.tail_steepness"
#: the cross-relaxation from 4F3/2 that seeds the loop most: CW sweeps hardly pin it (~12 % from
#: two sweeps, strongly tied to CR3/CR4 and the 4F3/2 lifetime), so the fit test frees a pair
#: the sweeps identify (ESA and the GSA steepness: ~1 % each, correlation ~0.7 by the Jacobian)
CR5 = "transfers.CR5.microparameter_cm6_s"
ETU = "transfers.ETU1.microparameter_cm6_s"
#: the description's values (sim_backends/physics/materials.py) and the truth the rig file sets
DEFAULTS = {ESA: 2.74e-24, GSA_STEEPNESS: 0.38}
TRUTH = {ESA: 3.2e-24, GSA_STEEPNESS: 0.41}


def avalab(*args: str, timeout: float = 600, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own; ``home``: its AVALAB_HOME (the session's by default)."""
    env = {**os.environ, "AVALAB_HOME": str(home)} if home is not None else None
    return subprocess.run([sys.executable, "-c", "from acquisition.cli import main; raise SystemExit(main())",
                           *args], capture_output=True, text=True, timeout=timeout, env=env)


STUDY = """\
name = "tiny-map"
experiment = "sweep"
[axes]
temperature_k = [77.0, 120.0]
dopant_fraction = [0.16, 0.20]
[params]
start_kw_cm2 = 1.5
stop_kw_cm2 = 12.0
points = 20
spacing = "log"
settle_s = 0.2
dwell_s = 0.1
[sample]
n_particles = 2
"""


def test_study_maps_every_point_and_writes_table_maps_and_page(tmp_path: Path) -> None:
    spec = tmp_path / "study.toml"
    spec.write_text(STUDY)
    done = avalab("study", str(spec), "--out", str(tmp_path / "out"), "--workers", "2", "--json")
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["points"] == 4
    rows = list(csv.DictReader(open(output["table"])))
    assert {(r["temperature_k"], r["dopant_fraction"]) for r in rows} == {
        (t, f) for t in ("77.0", "120.0") for f in ("0.16", "0.2")}
    assert all(r["switch_on_kw_cm2"] not in ("", None) for r in rows if r["bistable"] == "True")
    names = {Path(p).name for p in output["maps"]}
    assert {"map_switch_on_kw_cm2.png", "map_bistable.png", "map_nonlinearity_s.png"} <= names
    from matplotlib.image import imread
    for path in output["maps"]:
        assert float(np.std(imread(path)[..., :3])) > 0.05, path
    page = Path(output["page"]).read_text()
    assert "map_switch_on_kw_cm2.png" in page and "study.csv" in page
    # the dopant fraction acted on the sample: the run files were simulated at it
    from acquisition.storage import open_run
    fractions = {open_run(tmp_path / "out" / r["file"]).rig_config["sample"]["dopant_fraction"] for r in rows}
    assert fractions == {0.16, 0.2}


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "studies"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_every_example_study_validates_on_the_simulated_rig(example: Path) -> None:
    from acquisition.campaigns.checks import experiment_checker
    from acquisition.campaigns.spec import expand
    from acquisition.experiments import EXPERIMENTS
    from acquisition.rig import load_rig
    from acquisition.studies.spec import load_study

    study = load_study(example, lambda name: EXPERIMENTS[name].schema.names if name in EXPERIMENTS else None,
                       experiment_checker(load_rig("sim"), None))
    units = expand(study.campaign)
    assert len(units) >= 4 and study.map_x in study.axes and study.map_y in study.axes


def test_study_refusals_are_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "study.toml"
    spec.write_text(STUDY.replace("dopant_fraction = [0.16, 0.20]", "dopant_fraction = [0.16, 2.0]"))
    done = avalab("study", str(spec), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "sample.dopant_fraction" in done.stderr and "2" in done.stderr
    spec.write_text(STUDY.replace("[axes]", "[axes]\nwhatever = [1, 2]"))
    done = avalab("study", str(spec), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "axes.whatever" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def truth_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Sweeps at 77 and 100 K of one particle whose ESA cross section and GSA-wing steepness the
    rig file changed (by +17 % and +8 %): both thresholds pin the ESA, the switch-on's fall
    between the two temperatures the steepness."""
    folder = tmp_path_factory.mktemp("fit")
    rig = folder / "rig.toml"
    # film seed 5 puts one particle near the beam axis at the origin (the film's spots vary)
    rig.write_text(f'[rig]\nname = "fit truth"\n[sample]\nn_particles = 1\nseed = 5\nfilm_position_m = [0.0, 0.0]\n'
                   f'parameters = {{ "{ESA}" = {TRUTH[ESA]}, "{GSA_STEEPNESS}" = {TRUTH[GSA_STEEPNESS]} }}\n')
    # the same noise every time: a home of its own, calibrated before the sweeps (a sweep that
    # calibrates first draws the calibration's noise, and whether the session's home holds a
    # calibration depends on which tests ran before)
    home = folder / "home"
    done = avalab("calibrate", "--rig", str(rig), "--out", str(folder / "cal.h5"), "--no-progress", home=home)
    assert done.returncode == 0, done.stderr
    runs = []
    for temperature in (77, 100):
        path = folder / f"run_{temperature}.h5"
        done = avalab("sweep", "--rig", str(rig), "--temperature", str(temperature), "--start-kw-cm2", "1",
                      "--stop-kw-cm2", "12.5", "--points", "60", "--settle-s", "1", "--dwell-s", "0.1",
                      "--out", str(path), "--no-progress", home=home)
        assert done.returncode == 0, done.stderr
        runs.append(path)
    return runs


def test_fit_recovers_two_parameters_with_honest_errors(truth_runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "fit.json"
    done = avalab("fit", *map(str, truth_runs), "--free", ESA, GSA_STEEPNESS, "--workers", "2", "--out", str(out),
                  "--plot", str(tmp_path / "fit.png"), "--json", timeout=800)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert [p["name"] for p in result["parameters"]] == [ESA, GSA_STEEPNESS]
    for parameter in result["parameters"]:
        name, value, error = parameter["name"], parameter["value"], parameter["error"]
        assert parameter["start"] == pytest.approx(DEFAULTS[name], rel=1e-3)  # not started at the truth
        # the Jacobian at the truth gives ~1 % errors for this pair: 5 % is a claim they back
        assert abs(value - TRUTH[name]) <= 0.05 * TRUTH[name], (name, value)
        # honest errors: the truth within two of them, and they are small enough to back the claim
        assert 0 < error < 0.05 * value and abs(value - TRUTH[name]) <= 2.0 * error, (name, value, error)
    assert 0.5 < result["reduced_chi_square"] < 2.0  # the model describes the data within their errors
    correlation = np.array(result["correlation"])
    assert correlation == pytest.approx(correlation.T) and np.diag(correlation) == pytest.approx(1.0)
    assert abs(correlation[0, 1]) < 0.9
    assert (tmp_path / "fit.png").stat().st_size > 10_000


def test_the_modelled_thresholds_are_those_the_measurement_brackets(tmp_path: Path) -> None:
    """A spot of two particles switching at different densities (film seed 8 at the origin):
    the measured brackets (the largest step in log counts) and the model's switch-on/off (the
    particle whose switching multiplies the counts the most) are the same particle's."""
    from acquisition.studies.fit_model import _focal_spot, predict, read_sweep, spot_model

    rig = tmp_path / "rig.toml"
    rig.write_text('[rig]\nname = "two particles"\n[sample]\nn_particles = 1\nseed = 8\nfilm_position_m = [0.0, 0.0]\n')
    path = tmp_path / "run.h5"
    done = avalab("sweep", "--rig", str(rig), "--start-kw-cm2", "1", "--stop-kw-cm2", "12.5", "--points", "60",
                  "--settle-s", "1", "--dwell-s", "0.1", "--out", str(path), "--no-progress")
    assert done.returncode == 0, done.stderr
    data = read_sweep(path)
    model = spot_model(data)
    assert len(model.sample.parameters) == 0
    assert len(_focal_spot(data, model, {}).particles) == 2
    predicted = predict(data, model, {})  # the rig's own (true) parameters
    for bracket, key in ((data.on_bracket, "switch_on_w_m2"), (data.off_bracket, "switch_off_w_m2")):
        assert bracket is not None, key
        low, high = bracket
        assert 0.97 * low <= predicted[key] <= 1.03 * high, (key, bracket, predicted[key])


def test_a_strong_correlation_is_pointed_out() -> None:
    """CW sweeps pin the ESA cross section by both thresholds, ETU1 (the window width) only
    together with it (correlation about -0.95): the fit says so rather than leave it to the matrix."""
    from acquisition.studies.fit import FitResult, correlation_notes
    result = FitResult(names=[ESA, ETU, CR5], start={}, values={}, errors={},
                       correlation=[[1.0, -0.95, 0.3], [-0.95, 1.0, 0.1], [0.3, 0.1, 1.0]], chi_square=1.0,
                       degrees_of_freedom=1, evaluations=1, success=True, message="")
    notes = correlation_notes(result)
    assert len(notes) == 1 and f"{ESA} and {ETU} are correlated (r = -0.95)" in notes[0]


def test_fit_refuses_an_unknown_name_and_a_file_without_sweep_data(tmp_path: Path) -> None:
    calibration = tmp_path / "cal.h5"
    made = avalab("calibrate", "--out", str(calibration), "--no-progress")
    assert made.returncode == 0, made.stderr
    sweep = tmp_path / "sweep.h5"
    made = avalab("sweep", "--points", "6", "--settle-s", "0.1", "--dwell-s", "0.1", "--out", str(sweep),
                  "--no-progress")
    assert made.returncode == 0, made.stderr
    done = avalab("fit", str(sweep), "--free", "transfers.CR9.microparameter_cm6_s")
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert "transfers.CR9.microparameter_cm6_s" in done.stderr and CR5 in done.stderr  # the allowed names
    done = avalab("fit", str(calibration), "--free", ESA)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert "no sweep data" in done.stderr and str(calibration) in done.stderr
    bare = tmp_path / "bare.toml"  # film seed 13 has no particle at the origin at one per spot
    bare.write_text('[rig]\nname = "bare"\n[sample]\nn_particles = 1\nseed = 13\nfilm_position_m = [0.0, 0.0]\n')
    empty = tmp_path / "empty.h5"
    made = avalab("sweep", "--rig", str(bare), "--points", "6", "--settle-s", "0.1", "--dwell-s", "0.1", "--out",
                  str(empty), "--no-progress")
    assert made.returncode == 0, made.stderr
    done = avalab("fit", str(empty), "--free", ESA)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert "holds no particle" in done.stderr and str(empty) in done.stderr
