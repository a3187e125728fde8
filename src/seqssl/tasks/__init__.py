"""Task specifications, registered by name: ``get_task("classification")``.

A task says how its labels are read and validated, whether folds are stratified, what the model outputs
and how it is trained, which metrics it reports (and which is primary), how its predictions are written
and what the report shows. Every other module asks the task; none compares a task name. A new task is one
new registered class (see ``docs/ARCHITECTURE.md``)."""
from . import binary, multiclass, multilabel, regression, token  # noqa: F401,E402  (each registers itself)
from .base import TASKS, Labels, Task, as_task, get_task, register_task, task_metrics  # noqa: F401
