"""Density maps from models, noise and half maps, FSC, and grid changes.

Simulation (:mod:`.simulate`), noise (:mod:`.noise`), FSC (:mod:`.fsc`),
filters (:mod:`.filters`) and resampling/cropping/padding (:mod:`.resample`).
"""
from .filters import cosine_edge, frequency_grid, lowpass
from .fsc import FSCCurve, fsc, model_map_fsc
from .noise import add_noise, average, half_maps, noise_sigma
from .resample import crop, crop_to_model, pad, resample
from .simulate import SimulationConfig, box_around_model, gaussian_density, model_map, simulate_map

__all__ = ["cosine_edge", "frequency_grid", "lowpass", "FSCCurve", "fsc", "model_map_fsc",
           "add_noise", "average", "half_maps", "noise_sigma", "crop", "crop_to_model", "pad",
           "resample", "SimulationConfig", "box_around_model", "gaussian_density", "model_map",
           "simulate_map"]
