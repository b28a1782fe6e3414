"""Interactive explorers for the lessons (ipywidgets).

Every explorer is built the same way, so that it works in JupyterLab and in Colab
(which ships ipywidgets 7.7: only sliders, dropdowns, Image, Output, HBox/VBox are used;
no ipympl, no custom widget manager) and can be tested without a browser:

- ``render(**values) -> np.ndarray``: a plain function from control values to one RGB
  frame (uint8, H×W×3). Tests call it directly, and time it.
- the widget: controls + one persistent ``ipywidgets.Image`` whose ``value`` is set to
  ``to_png(render(...))`` whenever a control changes. The callback reads the controls'
  current values (the front end coalesces rapid slider moves), never counts events.
- the returned box (``_frames.explorer_box``) carries ``.render``, ``.controls`` (dict
  name -> widget) and ``.image`` (the Image widget), so a test can set
  ``box.controls["factor"].value = 4`` and assert that ``box.image.value`` changed.
- where no widget front end runs (nbconvert, GitHub), the box's text form is one
  sentence (``_frames.EXPLORER_TEXT``: run the cells to use it), and the lesson shows a
  static figure of the default setting just before it (``show_frame``, drawn pixel for
  pixel so its captions stay legible).

Shared frame helpers live in ``fcn_lessons.widgets._frames``; ``show_frame`` (the static
fallback) is re-exported here for the lessons.
"""

from fcn_lessons.widgets._frames import show_frame  # noqa: E402,F401
from fcn_lessons.widgets.receptive import receptive_field_explorer  # noqa: E402,F401
from fcn_lessons.widgets.upsampling import checkerboard_explorer, upsampling_explorer  # noqa: E402,F401
from fcn_lessons.widgets.pyramid import skip_explorer  # noqa: E402,F401
