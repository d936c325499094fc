"""Constants shared by the restraint library, the linker, the CCD reader and the riding hydrogens
(kept here, free of torch, so the library loads without it)."""

PEPTIDE, NUCLEIC, OTHER = "peptide", "nucleic", "other"   # polymer kinds

# X-H electron-cloud distances (Å) as MolProbity's reduce places them (Deis et al. 2013); the library's
# own values differ by up to 0.05 Å. Keyed by parent element, "Car" for an aromatic carbon.
XH_LENGTH = {"C": 0.97, "Car": 0.93, "N": 0.86, "O": 0.84, "S": 1.20}
