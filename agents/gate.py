"""The evidence gate: code, not the prompt, decides what a diagnosis may claim.

- Citations of evidence that does not exist in the investigation are dropped.
- A ruled-out item without existing evidence is dropped (an uncited claim).
- A diagnosis left with no usable evidence (none, or only failed checks) is capped at confidence
  0.3 and marked inconclusive, with its best lead kept.
"""

from __future__ import annotations

from agents.evidence import EvidenceBundle
from agents.state import QUIET_CATEGORIES, Diagnosis

UNSUPPORTED_CAP = 0.3


def apply_evidence_gate(diagnosis: Diagnosis, bundle: EvidenceBundle) -> tuple[Diagnosis, list[str]]:
    known = {e.id: e for e in bundle.evidence}
    notes: list[str] = []
    cited = [known[e.id] for e in diagnosis.evidence if e.id in known]
    dropped = [e.id for e in diagnosis.evidence if e.id not in known]
    if dropped:
        notes.append(f"dropped citations of evidence that does not exist: {', '.join(dropped)}")
    ruled_out = [r for r in diagnosis.ruled_out if r.evidence_ids and all(i in known for i in r.evidence_ids)]
    if len(ruled_out) < len(diagnosis.ruled_out):
        notes.append(f"dropped {len(diagnosis.ruled_out) - len(ruled_out)} ruled-out claims without existing evidence")
    candidates = [
        c.model_copy(update={"evidence_ids": [i for i in c.evidence_ids if i in known]}) for c in diagnosis.candidates
    ]
    usable = [e for e in cited if e.status == "ok"]
    update: dict[str, object] = {"evidence": cited, "ruled_out": ruled_out, "candidates": candidates}
    if not usable and diagnosis.category not in QUIET_CATEGORIES:
        update["confidence"] = min(diagnosis.confidence, UNSUPPORTED_CAP)
        if not diagnosis.inconclusive:
            update["inconclusive"] = True
            update["root_cause"] = f"inconclusive, best lead is: {diagnosis.root_cause}"
            notes.append(f"no cited evidence supports the diagnosis; confidence capped at {UNSUPPORTED_CAP}")
    return diagnosis.model_copy(update=update), notes
