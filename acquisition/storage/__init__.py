"""HDF5 run storage: one file per run, written point by point, safe against crashes.

    writer = RunWriter(path, rig_config, identities, software_version, calibration)
    engine.subscribe(writer.handle); ...; writer.close()
    run = open_run(path)   # finished, in progress, or killed

Layout and crash-safety design: docs/run_file_format.md.
"""
from acquisition.storage.reader import open_run, recover_run
from acquisition.storage.runfile import STATUSES, RunFile
from acquisition.storage.writer import RunWriter, journal_path_for

__all__ = ["RunWriter", "open_run", "recover_run", "RunFile", "STATUSES", "journal_path_for"]
