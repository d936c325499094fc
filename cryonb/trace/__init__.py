"""C-alpha traces: predicted C-alphas linked into chains, turned N->C and threaded with the sequence.

Links under 18 cutoffs kept by vote, fragments and their joining (:mod:`.connect`), side-chain
directions and map reads (:mod:`.pseudo`), the direction of a trace (:mod:`.direction`), residue
types from the density (:mod:`.sidechain`), threading with gaps (:mod:`.register`; the older gapless
threading: :mod:`.thread`, :mod:`.align`) and the whole run with its result and model (:mod:`.traces`).
"""
from .connect import CUTOFFS, join_fragments, links_at, paths, vote_links
from .direction import direction_score, trace_direction
from .pseudo import cb_axes, pseudo_cb, sample_map
from .thread import Register, thread_trace
from .traces import Trace, TraceConfig, TraceResult, build_traces, trace_structure

__all__ = ["CUTOFFS", "join_fragments", "links_at", "paths", "vote_links", "direction_score",
           "trace_direction", "cb_axes", "pseudo_cb", "sample_map", "Register", "thread_trace", "Trace",
           "TraceConfig", "TraceResult", "build_traces", "trace_structure"]
