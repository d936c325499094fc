"""What refinement minimises besides the map: the geometry terms of :mod:`cryonb.geometry` and the
Top8000 torsion priors (:mod:`cryonb.priors`) in one weighted loss.

Layering: ``geometry`` (topology and differentiable terms) sits below ``validation`` (MolProbity
metrics, which use it) and ``priors`` (mixtures fitted to validation's Top8000 tables); this
package sits above all three, so none of them imports another in a circle.
"""
