"""Default lengths of a series run (iterations), shared by SeriesConfig and the command line
without importing torch."""

PATCH_ITERATIONS = 150      # each patch stage (map score only, cheap)
ITERATIONS = 100            # atoms stage
RESIDUE_FACTOR = 2          # residues stage: RESIDUE_FACTOR x ITERATIONS
FIT_ITERATIONS = 100        # joint all-atom fit at 10 x the polish's map weight
SMOOTH_ITERATIONS = 100     # joint smoothing at the polish's balance
