"""Label conventions shared by the data, the metrics and the pictures.

``VOID_LABEL``: the class id of pixels that belong to no class, as in PASCAL VOC (object
outlines and ambiguous regions). Losses and metrics ignore it; it is never background.
"""

VOID_LABEL = 255
