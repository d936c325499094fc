"""C-alpha atoms from density maps with a 3D residual network (CR-I-TASSER's first stage).

Training data (:mod:`.dataset`), the network (:mod:`.network`), training (:mod:`.train`),
sliding-window inference (:mod:`.inference`), peaks to atoms (:mod:`.peaks`), the seed's CRscore
(:mod:`.score`), scoring on simulated maps beside the naive baseline (:mod:`.evaluate`) and
weights files (:mod:`.weights`).
"""
from .dataset import DataConfig, DataSplit, Sample, make_sample, split_structures, structure_names
from .evaluate import evaluate_sample
from .inference import predict_probability, sliding_window
from .network import NetworkConfig, ResidualNetwork, count_parameters
from .peaks import Peaks, ca_structure, calpha_chain, naive_atoms, pick_atoms
from .score import CAScore, ca_score, greedy_pairs, tm_d0
from .train import TrainConfig, TrainResult, shipped_config, shipped_data, train_network
from .weights import DEFAULT_WEIGHTS, load_weights, save_weights, ship_weights

__all__ = ["DataConfig", "DataSplit", "Sample", "make_sample", "split_structures", "structure_names",
           "evaluate_sample", "predict_probability", "sliding_window", "NetworkConfig", "ResidualNetwork",
           "count_parameters", "Peaks", "ca_structure", "calpha_chain", "naive_atoms", "pick_atoms", "CAScore",
           "ca_score", "greedy_pairs", "tm_d0", "TrainConfig", "TrainResult", "shipped_config", "shipped_data",
           "train_network",
           "DEFAULT_WEIGHTS", "load_weights", "save_weights", "ship_weights"]
