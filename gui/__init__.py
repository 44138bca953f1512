"""avalab operator GUI (PyQt6 + pyqtgraph): ``avalab gui [--rig sim|FILE]`` -> ``gui.app.main``.

Modules, one job each:
- ``app``: command line, rig + engine + window wiring;  ``main_window``: docks and routing;
- ``event_bridge``: engine events (worker thread) -> GUI thread, batched per wake-up;
- ``live_plots``: hysteresis (log-log, incremental), switching trace, TCSPC histogram, temperature;
- ``instruments_panel`` / ``instrument_worker``: per-role readings and manual controls on a QThread;
- ``emergency_stop``: STOP on a short-lived thread;  ``experiment_panel`` / ``param_form`` /
  ``run_queue``: schema-generated forms, run control, queue;  ``runs_browser`` / ``run_export``:
  stored runs;  ``log_panel``: logging -> Qt signal;  ``settings``: QSettings location;
- ``screenshot``: README image / X11 smoke test.

Threading rule: nothing on the GUI thread waits for an instrument or a run.
"""
