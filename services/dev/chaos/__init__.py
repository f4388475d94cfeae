"""``tweestap chaos``: random faults under a mixed load, a recorded history, invariants checked
at the end (issue 26; docs/chaos.md). ``schedule`` picks the faults from a seed, ``nemesis``
applies them to a running deployment, ``load`` drives the SDK, ``history`` records both,
``checks`` judges the history, ``run`` ties them together."""
