"""The skip explorer (lesson 05): switch each skip of FCN-16s / FCN-8s on and off, see what it adds.

The output of an FCN is a sum of terms, one per stride (``pyramid.skip_contributions``:
the upsampling layers are linear), so switching a skip off is dropping its term from the
sum: the fused prediction with the pool4 or pool3 term zeroed. Every term of every scene is
computed once, when the explorer is built; a callback only adds precomputed maps, takes
the argmax and draws, so it stays far below the 50 ms budget
(``python -m fcn_lessons.bench pyramid-explorer``).

The pattern of ``fcn_lessons.widgets``: :func:`skip_renderer` returns the plain function
``render(variant, scene, pool4=True, pool3=True) -> RGB frame``; :func:`skip_explorer`
wraps it in a variant ``Dropdown``, a scene ``IntSlider``, two ``Checkbox`` es and one
``Image`` (widgets that ipywidgets 7.7 and 8 share).
"""

from __future__ import annotations

import numpy as np

from fcn_lessons import _validate
from fcn_lessons.labels import VOID_LABEL
from fcn_lessons.widgets._frames import enlarge, explorer_box, hstack, label, to_png

__all__ = ["skip_renderer", "skip_explorer", "SWITCHES"]

SWITCHES = ("pool4", "pool3")  # the skips a learner can switch, coarse to fine
DISPLAY_SCALE = 2  # each panel at 2× so single pixels stay visible
RIGHT, WRONG, IGNORED = (255, 255, 255), (220, 40, 40), (170, 170, 170)  # the error panel's colours


def _scene_iou(mask: np.ndarray, predicted: np.ndarray, num_classes: int) -> float:
    from fcn_lessons import metrics

    return float(metrics.segmentation_scores(metrics.confusion_matrix(mask, predicted, num_classes))["mean_iou"])


def _errors(mask: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    frame = np.empty((*mask.shape, 3), np.uint8)
    frame[...] = np.where((predicted == mask)[..., None], RIGHT, WRONG)
    frame[mask == VOID_LABEL] = IGNORED
    return frame


def skip_renderer(fcns: dict, images, masks, *, inputs=None, scale: int = DISPLAY_SCALE):
    """``render(variant, scene, pool4=True, pool3=True) -> (H', W', 3) uint8`` for trained FCNs.

    Args:
        fcns: {"32s": model, "16s": model, "8s": model} (any of them): FCNs from
            ``models.fcn`` (or with the same layer names), trained on the same classes.
        images: (N, H, W, 3) scenes to show, uint8 or float in [0, 1].
        masks: (N, H, W) their labels (void 255).
        inputs: what the models take for ``images`` (default: ``models.preprocess_input(images)``,
            the mini_vgg backbone's input).
        scale: integer enlargement of each pixel.

    The frame shows the labels, the prediction with the chosen terms, and its errors (red:
    wrong, grey: void), captioned with the scene's mean IU with these terms and with all of
    them. ``render`` carries ``.variants``, ``.num_scenes``, ``.terms`` ({variant: {term:
    (N, H, W, C)}}) and ``.predict(variant, scene, pool4, pool3)`` (the class ids).
    """
    from fcn_lessons import models, pyramid, viz

    if not isinstance(fcns, dict) or not fcns:
        raise ValueError("fcns must be a non-empty dict {variant: trained FCN}, e.g. {'32s': m32, '8s': m8}.")
    for variant, model in fcns.items():
        if pyramid.variant_of(model) != variant:
            raise ValueError(f"fcns[{variant!r}] is an FCN-{pyramid.variant_of(model)}, not an FCN-{variant}.")
    images = _validate.image(images, "images", batch=True, dtype=None)
    masks = _validate.label_map(masks, "masks", ndim=3, ignore_label=VOID_LABEL)
    if masks.shape != images.shape[:3]:
        raise ValueError(f"masks must be (N, H, W) = {images.shape[:3]} to match images; received {masks.shape}.")
    scale = _validate.integer(scale, "scale", minimum=1)
    model_inputs = models.preprocess_input(images) if inputs is None else np.asarray(inputs, np.float32)
    if model_inputs.shape[0] != len(images):
        raise ValueError(f"inputs must hold one model input per image ({len(images)}), received {len(model_inputs)}.")
    terms = {variant: pyramid.skip_contributions(model, model_inputs) for variant, model in fcns.items()}
    num_classes = next(iter(terms.values()))["score_fr"].shape[-1]
    truth = [enlarge(viz.colorize(mask), scale) for mask in masks]

    def predict(variant: str, scene: int, pool4: bool = True, pool3: bool = True) -> np.ndarray:
        """(H, W) class ids of ``scene`` from the switched-on terms (a sum of precomputed maps)."""
        scores = pyramid.fuse_terms({name: t[scene:scene + 1] for name, t in terms[variant].items()},
                                    switches={"pool4": bool(pool4), "pool3": bool(pool3)})
        return scores[0].argmax(axis=-1).astype(np.uint8)

    def render(variant: str, scene: int, pool4: bool = True, pool3: bool = True) -> np.ndarray:
        """One frame: labels, the prediction from the switched-on terms, its errors."""
        _validate.choice(variant, "variant", tuple(terms))
        scene = _validate.integer(scene, "scene", minimum=0, maximum=len(masks) - 1)
        present = [skip for skip in SWITCHES if skip in terms[variant]]
        on = {skip: bool(pool4 if skip == "pool4" else pool3) for skip in present}
        predicted = predict(variant, scene, on.get("pool4", False), on.get("pool3", False))
        everything = predict(variant, scene, True, True)
        used = " + ".join(["score_fr"] + [f"{skip} (on)" if on[skip] else f"{skip} (off)" for skip in present])
        panels = [label(truth[scene], "labels"),
                  label(enlarge(viz.colorize(predicted), scale), "prediction from the terms on"),
                  label(enlarge(_errors(masks[scene], predicted), scale), "errors (red), void (grey)")]
        now, full = (_scene_iou(masks[scene], p, num_classes) for p in (predicted, everything))
        caption = f"FCN-{variant}, scene {scene}: {used}; mean IU {now:.3f} (all terms {full:.3f})"
        return label(hstack(panels), caption, height=20)

    render.variants, render.num_scenes, render.terms, render.predict = tuple(terms), len(masks), terms, predict
    return render


def skip_explorer(fcns: dict, images, masks, *, variant: str | None = None, scene: int = 0, inputs=None,
                  scale: int = DISPLAY_SCALE):
    """A widget: pick a variant and a scene, switch the pool4 and pool3 skips on and off.

    Arguments as :func:`skip_renderer`; ``variant`` is shown first (default: the finest one
    given). A skip the variant does not have is shown disabled.

    Returns:
        an ``ipywidgets.VBox`` carrying ``.render``, ``.controls`` (``variant``, ``scene``,
        ``pool4``, ``pool3``), ``.image`` (the Image widget) and ``.update``.
    """
    import ipywidgets

    render = skip_renderer(fcns, images, masks, inputs=inputs, scale=scale)
    first = render.variants[-1] if variant is None else _validate.choice(variant, "variant", render.variants)
    scene = _validate.integer(scene, "scene", minimum=0, maximum=render.num_scenes - 1)
    controls = {
        "variant": ipywidgets.Dropdown(options=list(render.variants), value=first, description="variant"),
        "scene": ipywidgets.IntSlider(value=scene, min=0, max=render.num_scenes - 1, description="scene"),
        "pool4": ipywidgets.Checkbox(value=True, description="pool4 skip"),
        "pool3": ipywidgets.Checkbox(value=True, description="pool3 skip"),
    }
    picture = ipywidgets.Image(format="png")

    def update(change=None):
        values = {name: control.value for name, control in controls.items()}
        present = render.terms[values["variant"]]
        for skip in SWITCHES:
            controls[skip].disabled = skip not in present
        picture.value = to_png(render(**values))

    for control in controls.values():
        control.observe(update, names="value")
    update()
    return explorer_box([ipywidgets.HBox([controls["variant"], controls["scene"]]),
                         ipywidgets.HBox([controls["pool4"], controls["pool3"]]), picture],
                        render=render, controls=controls, image=picture, update=update)
