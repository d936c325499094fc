"""The ``cryonb`` subcommands, one module each (see :mod:`cryonb.cli`)."""


def fmt_value(v) -> str:
    """A metric for a before/after table: 3 decimals for floats, 'n/a' for None."""
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)
