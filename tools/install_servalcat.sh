#!/usr/bin/env bash
# Install servalcat, the peer refinement program of benchmarks/peer_servalcat.py, with a CCP4
# monomer library, in a virtual environment of its own (never cryonb's .venv: servalcat pins
# its own numpy/scipy/pandas/gemmi).
#
# Usage: tools/install_servalcat.sh [DIR]      (default DIR: /work/peers/servalcat)
#   PYTHON=python3.11 tools/install_servalcat.sh DIR   to choose the interpreter.
#
# The monomer library comes from the pip wheel coot-headless-api (a pre-release; it is used
# here only for its share/coot/lib/data/monomers folder, with list/ and ener_lib.cif). Users
# with CCP4 may point CLIBD_MON at $CCP4/lib/data/monomers instead.
# Prints the servalcat executable and the CLIBD_MON to export; peer_servalcat.py finds both by
# itself in the default DIR, or through CRYONB_SERVALCAT and CLIBD_MON.
set -euo pipefail

DIR=${1:-/work/peers/servalcat}
PYTHON=${PYTHON:-python3}
SERVALCAT_VERSION=0.4.142
COOT_HEADLESS_API_VERSION=1.3.3rc1

if [ ! -x "$DIR/bin/python" ]; then
    echo "creating virtual environment $DIR" >&2
    "$PYTHON" -m venv "$DIR"
fi
"$DIR/bin/python" -m pip install --quiet --disable-pip-version-check "servalcat==$SERVALCAT_VERSION"
"$DIR/bin/python" -m pip install --quiet --disable-pip-version-check --pre \
    "coot-headless-api==$COOT_HEADLESS_API_VERSION"

# Locate the package folder without importing it (the module loads Coot's shared libraries).
MONOMERS=$("$DIR/bin/python" - <<'EOF'
import importlib.util
from pathlib import Path
spec = importlib.util.find_spec("coot_headless_api")
roots = spec.submodule_search_locations or [Path(spec.origin).parent]
print(Path(list(roots)[0]) / "share" / "coot" / "lib" / "data" / "monomers")
EOF
)
for need in list/mon_lib_list.cif ener_lib.cif a/ALA.cif; do
    if [ ! -f "$MONOMERS/$need" ]; then
        echo "error: monomer library $MONOMERS lacks $need" >&2
        exit 1
    fi
done

SERVALCAT="$DIR/bin/servalcat"
"$SERVALCAT" --version >/dev/null 2>&1 || { echo "error: $SERVALCAT --version failed" >&2; exit 1; }
"$SERVALCAT" refine_spa_norefmac --help >/dev/null 2>&1 \
    || { echo "error: $SERVALCAT refine_spa_norefmac --help failed" >&2; exit 1; }

echo "servalcat $SERVALCAT_VERSION installed"
echo "CRYONB_SERVALCAT=$SERVALCAT"
echo "CLIBD_MON=$MONOMERS"
