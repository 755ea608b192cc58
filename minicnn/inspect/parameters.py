"""How many parameters each layer has (Ex08 q. 1.2: "Report a number of
parameters of each layer together with the total amount of parameters")."""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["ParameterRow", "ParameterTable", "parameter_table"]


class ParameterRow(NamedTuple):
    """One layer: name, type, output shape (None = batch), parameter count, trainable count."""
    name: str
    type: str
    output_shape: tuple
    params: int
    trainable: int


class ParameterTable(list):
    """A list of ParameterRow with totals; ``str(table)`` is a text table."""

    @property
    def total(self) -> int:
        return sum(r.params for r in self)

    @property
    def trainable(self) -> int:
        return sum(r.trainable for r in self)

    def __str__(self) -> str:
        lines = [f"{'layer':<20}{'type':<18}{'output shape':<22}{'params':>10}{'trainable':>11}"]
        for r in self:
            shape = "(" + ", ".join("None" if d is None else str(d) for d in r.output_shape) + ")"
            lines.append(f"{r.name:<20}{r.type:<18}{shape:<22}{r.params:>10,}{r.trainable:>11,}")
        lines.append(f"{'total':<60}{self.total:>10,}{self.trainable:>11,}")
        return "\n".join(lines)


def parameter_table(model) -> ParameterTable:
    """Per layer (graph order): name, type, output shape, number of parameters, trainable ones.

    ``table.total`` is the total (Ex08 q. 1.2 asks for each layer's count and the
    total). A Conv2D has KH*KW*C_in*F + F parameters, a Dense in*out + out.
    BatchNorm's moving statistics count as parameters but not trainable ones,
    as in Keras.
    """
    table = ParameterTable()
    for layer in model.layers:
        trainable = sum(p.value.size for p in layer.trainable_params())
        table.append(ParameterRow(layer.name, type(layer).__name__, tuple(layer.output_shape or ()),
                                  layer.count_params(), int(trainable)))
    return table
