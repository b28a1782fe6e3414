"""Receptive fields: computed with the recurrence, measured with gradients (lesson 02).

Coordinates: input pixel ``i`` has its centre at coordinate ``i`` (rows and columns
counted from 0), so a field of ``size`` pixels centred at ``c`` covers the pixels whose
centres lie in ``[c - (size - 1) / 2, c + (size - 1) / 2]``.

The recurrence, per axis, for a layer with kernel ``k``, stride ``s``, dilation ``d`` and
``p`` zeros of padding before the first pixel (``k_eff = d (k - 1) + 1``)::

    size_out   = size_in + (k_eff - 1) * jump_in        # uses the jump of the layer *below*
    jump_out   = jump_in * s
    offset_out = offset_in + ((k_eff - 1) / 2 - p) * jump_in

(Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural Networks",
Distill 2019; the FCN paper writes the same composition, in the introduction of its
section 3, as ``f_ks ∘ g_k's' = (f ∘ g)_{k' + (k - 1) s', s s'}``.)

This package is the face of four modules; every name is importable from here:

- ``recurrence1d``: ``Layer1D``, ``conv_step``, ``recurrence`` (the recurrence on 1-D
  layer specs), ``transposed_step`` (the step through a transposed convolution, Exercise
  2.1), ``support_1d`` (the exact input pixels one unit reads), ``smallest_field`` and
  ``dilation_schedule`` (the smallest field at or above a target, and dilations that give
  it without holes, Exercise 2.3).
- ``keras_walker``: ``ReceptiveField``, ``receptive_fields(model)`` (every layer of a
  Keras model), ``field_table`` (the fields as a text table), ``layer_output``.
- ``gradients``: ``unit_gradients``, ``empirical_receptive_field`` (the field measured
  with gradients, and the "effective" receptive field of Luo, Li, Urtasun and Zemel,
  NeurIPS 2016), ``EmpiricalField``.
- ``drawing``: ``draw_stack_1d`` (the 1-D picture of a stack of layers), ``plot_box`` (a
  field on an image).

Lesson 02 also measures how well a model labels object centres and edges; those live
with the concepts they belong to and are re-exported here under their old names:
``distance_to_boundary`` and ``coarse_oracle`` (``fcn_lessons.labels``: is a pixel at an
object's centre or edge; what a perfect-proportions oracle at an output stride gets, a
reference rather than a ceiling), and
``accuracy_by_distance``, ``accuracy_profile`` (``fcn_lessons.metrics``: the paper's
scores over those pixels).
"""

from fcn_lessons.labels import coarse_oracle, distance_to_boundary
from fcn_lessons.metrics import accuracy_by_distance, accuracy_profile
from fcn_lessons.receptive.drawing import draw_stack_1d, plot_box
from fcn_lessons.receptive.gradients import EmpiricalField, empirical_receptive_field, unit_gradients
from fcn_lessons.receptive.keras_walker import (
    ReceptiveField,
    _format,
    _pair_text,
    _position,
    field_table,
    layer_output,
    receptive_fields,
)
from fcn_lessons.receptive.recurrence1d import (
    Layer1D,
    _number,
    _spec,
    conv_step,
    dilation_schedule,
    recurrence,
    smallest_field,
    support_1d,
    transposed_step,
)

__all__ = [
    "EmpiricalField", "Layer1D", "ReceptiveField", "accuracy_by_distance", "accuracy_profile",
    "coarse_oracle", "conv_step", "dilation_schedule", "distance_to_boundary", "draw_stack_1d",
    "empirical_receptive_field", "field_table", "layer_output", "plot_box", "receptive_fields",
    "recurrence", "smallest_field", "support_1d", "transposed_step", "unit_gradients",
]
