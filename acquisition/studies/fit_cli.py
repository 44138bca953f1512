"""``avalab fit RUN.h5 [RUN2.h5 ...] --free NAMES``: named model parameters fitted to measured
I-P curves (registered by acquisition.cli)."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    fit = subparsers.add_parser(
        "fit", help="fit named model parameters to measured I-P curves (run files)",
        description="Least squares on the curves and their thresholds; the model is evaluated in "
                    "parallel on dask workers. Parameter names come from the material description "
                    "(--list prints them).")
    fit.add_argument("runs", type=Path, nargs="+", help="run files of CW power sweeps (real or simulated)")
    fit.add_argument("--free", nargs="+", default=[], metavar="NAME", help="parameters to fit")
    fit.add_argument("--list", action="store_true", help="print the parameter names of the runs' material")
    fit.add_argument("--rig", default=None,
                     help="a rig file whose [sample]/[sim] describe the sample (default: each run's own)")
    fit.add_argument("--workers", type=int, default=None, metavar="N",
                     help="local dask worker processes (default: the number of cores)")
    fit.add_argument("--scheduler", default=None, metavar="ADDRESS", help="an existing dask cluster")
    fit.add_argument("--out", type=Path, default=None, help="result JSON (default: <first run>_fit.json)")
    fit.add_argument("--plot", type=Path, default=None, help="PNG of data against the fit")
    fit.add_argument("--json", action="store_true", help="one JSON object on stdout")
    fit.set_defaults(handler=fit_command)


def _error(message: str) -> int:
    print(f"avalab: error: {message}", file=sys.stderr)
    return 2


def fit_command(args: argparse.Namespace) -> int:
    from acquisition.campaigns.parallel import ParallelRefused, dask_client
    from acquisition.rig import config_to_dict, load_rig_config
    from acquisition.studies.fit import correlation_notes, fit, plot_fit
    from acquisition.studies.fit_model import FitInputError, read_sweep, spot_model
    from sim_backends.physics import get_material
    from sim_backends.physics.parameters import check_parameter_names, parameter_names, parameter_values

    try:
        rig_config = config_to_dict(load_rig_config(args.rig)) if args.rig else None
        datas = [read_sweep(path, rig_config) for path in args.runs]
        runs = [(data, spot_model(data)) for data in datas]
    except (FitInputError, ValueError) as exc:
        return _error(str(exc).splitlines()[0])
    materials = []
    for _, model in runs:
        sample = model.sample
        materials.append(get_material(sample.material, dopant_fraction=sample.dopant_fraction,
                                      knockouts=tuple(sample.knockouts)))
    if args.list:
        print("\n".join(parameter_names(materials[0])))
        return 0
    if not args.free:
        return _error(f"free=[]: no parameter to fit; allowed: one or more of "
                      f"{', '.join(parameter_names(materials[0]))}")
    try:
        for material in materials:
            check_parameter_names(material, args.free)
    except KeyError as exc:
        return _error(f"free: {str(exc).strip(chr(34) + chr(39))}")
    # the description's values, not what a simulated run was given: the fit must find those
    start = {name: parameter_values(materials[0])[name] for name in dict.fromkeys(args.free)}
    for name, value in start.items():
        if not value > 0.0:
            return _error(f"free={name}: its value {value:g} is not positive; allowed: positive parameters "
                          "(fitted in log scale)")
    for data, model in runs:  # the fitted parameters start from the description in every run
        model.sample.parameters = {k: v for k, v in model.sample.parameters.items() if k not in start}
    out = args.out or args.runs[0].with_name(args.runs[0].stem + "_fit.json")
    workers = args.workers if args.workers is not None or args.scheduler else (os.cpu_count() or 1)
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(dask_client(workers, args.scheduler))
        except ParallelRefused as exc:
            return _error(str(exc))
        result = fit(runs, start, client)
    out.write_text(json.dumps(result.to_dict(), indent=2))
    if args.plot is not None:
        plot_fit(args.plot, runs, result)
    if args.json:
        print(json.dumps({**result.to_dict(), "result_file": str(out)}))
        return 0
    print(f"fit of {len(runs)} run(s): chi-square {result.chi_square:.1f} for {result.degrees_of_freedom} "
          f"degrees of freedom, {result.evaluations} model evaluations ({result.message})")
    for name in result.names:
        print(f"  {name:<52} {result.values[name]:.5g} ± {result.errors[name]:.2g}   (start {result.start[name]:.5g})")
    if len(result.names) > 1:
        print("  correlations:")
        for i, name in enumerate(result.names):
            print("    " + " ".join(f"{c:+.3f}" for c in result.correlation[i]) + f"  {name}")
    for note in correlation_notes(result):
        print(f"  note: {note}")
    print(f"  result: {out}" + (f", plot: {args.plot}" if args.plot else ""))
    return 0
