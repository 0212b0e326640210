"""The modules that register gdsim's own components, through the same hooks as any plugin."""

BUILTIN_PLUGINS: tuple[str, ...] = (
    "gdsim.objectives.polynomial",
    "gdsim.objectives.test_functions",
    "gdsim.objectives.mlp",
    "gdsim.objectives.activations",
    "gdsim.objectives.initializers",
    "gdsim.data.sources",
    "gdsim.estimators",
    "gdsim.rules.classic",
    "gdsim.rules.adaptive",
    "gdsim.schedules",
    "gdsim.transforms",
    "gdsim.observers.recorder",
    "gdsim.observers.early_stopping",
    "gdsim.observers.checkpoint",
    "gdsim.observers.diagnostics",
    "gdsim.observers.target",
)
