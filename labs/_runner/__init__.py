"""The machinery the lab scripts share (see DESIGN.md, "Labs").

One idea per file:
- ``lab``:        the ``Lab`` a script talks to (``start(name)``), groups of runs, the report
- ``training``:   one run: ``RunSpec`` and ``TrainingRun`` (train, checkpoint, resume, result)
- ``checkpoint``: the atomic checkpoint file and the random-generator states
- ``data``:       datasets as labs use them, with subsets and the data source line
- ``stats``:      mean ± std over seeds, curve bands
- ``parallel``:   ``--jobs N`` worker processes
- ``estimate``:   estimated training time of a profile on this machine
- ``machine``:    CPU, cores, date, commit for report headers
- ``cli``:        ``minicnn lab list | run | report``
"""
from .lab import Lab, LabStopped, RunGroup, format_duration, start
from .stats import best_of, curve_band, fmt_mean_std, mean_std
from .training import RunSpec, TrainingRun

__all__ = ["Lab", "LabStopped", "RunGroup", "start", "format_duration", "RunSpec", "TrainingRun",
           "mean_std", "fmt_mean_std", "curve_band", "best_of"]
