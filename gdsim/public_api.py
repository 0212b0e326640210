"""What a plugin may import from gdsim: the public contract, kept stable.

Everything listed here keeps its name, its call signature and its meaning across minor
releases. When something must change, the old name keeps working for at least one minor release
and warns with :class:`gdsim.deprecation.GdsimDeprecationWarning`, naming its replacement;
only then is it removed. Anything *not* listed (a module's private helpers, the engine's
internals, the CLI's functions) may change without notice: ask for it to be added here rather
than import it.

``tests/test_public_api.py`` imports every name below, and checks that docs/plugins.md lists
every module, so the list, the code and the author's guide cannot drift apart.
"""

from __future__ import annotations

PUBLIC_API: dict[str, tuple[str, ...]] = {
    # the Python API: run and load scenarios from a plugin's tests
    "gdsim": ("__version__", "evaluate", "load", "load_weights", "resume", "run"),
    # the hooks and their marker
    "gdsim.hookspecs": (
        "COMPONENT_HOOKS",
        "ENTRY_POINT_GROUP",
        "PROJECT_NAME",
        "hookimpl",
        "gdsim_objectives",
        "gdsim_estimators",
        "gdsim_rules",
        "gdsim_transforms",
        "gdsim_schedules",
        "gdsim_observers",
        "gdsim_data_sources",
        "gdsim_activations",
        "gdsim_initializers",
        "gdsim_run_started",
        "gdsim_step_completed",
        "gdsim_epoch_completed",
        "gdsim_diverged",
        "gdsim_run_completed",
    ),
    # the base class of every kind, and how parameters are declared
    "gdsim.components": (
        "KINDS",
        "Component",
        "ComponentState",
        "Objective",
        "Estimator",
        "UpdateRule",
        "GradientTransform",
        "Schedule",
        "Observer",
        "DataSource",
        "Activation",
        "Initializer",
        "EpochMetrics",
        "MemberObserver",
        "MemberStep",
        "ParamInfo",
        "describe_params",
        "param",
    ),
    # parameter validators whose messages name the key path
    "gdsim.validators": (
        "Validator",
        "increasing_ints",
        "int_at_least",
        "non_negative",
        "number_in",
        "one_of",
        "optional",
        "positive",
        "unit_interval_open_right",
    ),
    # parameter trees
    "gdsim.state": ("Params", "as_params", "global_norm", "tree_map", "zeros_like"),
    # exactly rounded powers (the same bits on scalars and on ensemble arrays)
    "gdsim.numerics": ("power",),
    # writing a component once for numpy and JAX (the array API standard)
    "gdsim.xp": (
        "check_traceable",
        "errstate",
        "global_norm",
        "is_concrete",
        "namespace",
        "power",
        "select",
        "zeros_like",
    ),
    # errors a component raises, and the name-suggestion helper
    "gdsim.errors": ("GdsimError", "ParamError", "PluginError", "ScenarioError", "did_you_mean"),
    # what observers and event hooks receive
    "gdsim.engine": ("RunContext",),
    "gdsim.results": ("Results", "RunResult"),
    # the adaptive family's building blocks (moments, coupled weight decay)
    "gdsim.rules.adaptive": (
        "coupled_decay",
        "coupled_decay_param",
        "first_moment",
        "second_moment",
    ),
    # finding components
    "gdsim.registry": (
        "Registry",
        "UnknownComponentError",
        "active_registry",
        "default_registry",
        "using_registry",
    ),
    # the conformance kit
    "gdsim.testing": (
        "Case",
        "Problem",
        "check_activation",
        "check_backends",
        "check_data_source",
        "check_elementwise_split",
        "check_estimator",
        "check_initializer",
        "check_objective",
        "check_observer",
        "check_rule",
        "check_rule_contract",
        "check_schedule",
        "check_transform",
        "check_transform_contract",
        "conformance_cases",
        "examples_of",
        "finite_values",
        "problems",
        "roundtrip_state",
        "run_conformance",
        "run_rule",
        "same_tree",
        "snapshot",
        "split_problems",
    ),
    # how deprecations are announced
    "gdsim.deprecation": ("GdsimDeprecationWarning", "warn_deprecated"),
}
"""Module → the names in it that plugins may use."""

DEPRECATED: dict[str, str] = {
    "gdsim.data.SOURCES": "gdsim.registry.active_registry().names('data') / .get('data', name)",
    "mlp objective: negative_slope": "activation = { name = 'leaky_relu', negative_slope = … }",
    "mlp objective: elu_alpha": "activation = { name = 'elu', alpha = … }",
}
"""What is deprecated (still works, warns) and what replaces it."""
