"""Assembly of full chains from placed templates, traces and the map (the second seed: REMC, SPICKER, eTM)."""
