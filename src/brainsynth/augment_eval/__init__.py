"""``brainsynth augment-eval``: does synthetic data help a downstream model?

The paper's stated purpose (Han et al. 2018, §1 and Fig. 1) is data augmentation for
computer-assisted diagnosis. This package measures it on a tumour / no-tumour slice
classification task: one small CNN (:mod:`.classifier`) trained in four arms (real only,
real + classic augmentation, real + synthetic, real + classic + synthetic) at several
fractions of the real training patients, with patient-level bootstrap intervals
(:mod:`.report`). Test patients are never seen by any generator (:mod:`.splits`,
:mod:`.synthetic`).

Modules: ``config`` (torch-free settings), ``splits``, ``classifier``, ``classic``,
``synthetic`` (where synthetic images come from), ``experiment`` (the loop), ``report``
and ``plot``.
"""
