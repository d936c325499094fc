"""nglview helpers build the widgets and send NGL the right components (no browser here;
tests/test_browser.py checks that they draw)."""
import numpy as np
import pytest

from cryonb import data, viz


def _load_calls(view):
    return [m for m in view._ngl_msg_archive if m.get("methodName") == "loadFile"]


def _repr_calls(view):
    return [m for m in view._ngl_msg_archive if m.get("methodName") == "addRepresentation"]


def test_model_in_map_sends_structure_and_wireframe_surface(adk_closed, adk_map_4a):
    view = viz.show_model_in_map(adk_closed, adk_map_4a, sigma=2.0)
    loads = _load_calls(view)
    assert [m["kwargs"]["ext"] for m in loads] == ["pdb", "mrc"]
    assert loads[0]["args"][0]["data"].count("ATOM") == 1656
    surface = [m for m in _repr_calls(view) if m["args"][0] == "surface"][0]
    params = surface["kwargs"]
    assert params["isolevelType"] == "sigma" and params["isolevel"] == 2.0 and params["wireframe"]


def test_several_models_get_their_own_colours(adk_open, adk_closed):
    view = viz.show_models(adk_open, adk_closed)
    colours = [m["kwargs"]["color"] for m in _repr_calls(view)]
    assert len(colours) == 2 and colours[0] != colours[1]


def test_colour_by_residue_puts_values_in_bfactor(adk_closed):
    values = np.linspace(0.0, 1.0, 214)
    view = viz.color_by_residue(adk_closed, values)
    pdb = _load_calls(view)[0]["args"][0]["data"]
    last_ca = [line for line in pdb.splitlines() if line.startswith("ATOM") and " CA " in line][-1]
    assert float(last_ca[60:66]) == pytest.approx(1.0)
    params = _repr_calls(view)[0]["kwargs"]
    assert params["colorScheme"] == "bfactor" and params["colorDomain"] == [0.0, 1.0]
    with pytest.raises(ValueError, match="214 residues"):
        viz.color_by_residue(adk_closed, [1.0, 2.0])


def test_trajectory_has_frame_slider_linked_to_view():
    traj = data.adk_dims()
    box = viz.show_trajectory(traj)
    assert box.view.max_frame == 97 and box.slider.max == 97
    box.slider.value = 40
    assert box.view.frame == 40
    adaptor = box.view._trajlist[0]
    assert np.allclose(adaptor.get_coordinates(40), data.adk_dims_frames()[40])
