"""A factor kind is described once (shared/factor_kinds.py) and behaves in its own modules:
the specs are consistent, every kind has its modules, and no other list of kinds comes back
(the central lists of FACTOR_ORDER, STRONG_FACTORS, AMR, BROWSER_FACTORS … that a new kind
had to be added to, in about 20 files)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, cast

from services.auth.factors import registry as auth_factors
from services.enrolment.factors import registry as enrolment_factors
from shared import factor_kinds
from shared.factor_kinds import ENROLLED, KINDS, ORDER, SPECS

ROOT = Path(__file__).resolve().parents[2]
#: Where a kind may be named: its spec, and the factor modules (a module names its own kinds).
ALLOWED = ("shared/factor_kinds.py", "services/auth/factors/", "services/enrolment/factors/")
#: Kind names that mean only a factor ("sms" and "email" are also the notifier's channels).
ONLY_FACTORS = frozenset({"passkey", "totp", "recovery"})


def test_the_specs_are_consistent() -> None:
    assert tuple(s.kind for s in sorted(SPECS, key=lambda s: s.order)) == ORDER
    assert len({s.order for s in SPECS}) == len(SPECS), "one place each in the offer"
    assert len({s.amr for s in SPECS}) == len(SPECS), "each kind its own amr"
    assert all(set(s.labels) >= {"nl", "en"} for s in SPECS)
    assert [s.kind for s in SPECS if s.wizard] == ["totp"], "the wizard sets up one kind"
    assert all(KINDS[k].enrolled for k in ENROLLED)
    assert not any(s.strong and s.beside_strong for s in SPECS)
    assert factor_kinds.label("totp", "nl") == "Code uit de authenticator-app"


def test_every_kind_has_its_modules() -> None:
    methods = auth_factors.default(*[cast(Any, None)] * 7)
    for kind in ORDER:
        method = methods.get(kind)
        assert method is not None and kind in method.kinds, f"auth has no module for {kind}"
    for kind in ENROLLED:
        assert kind in enrolment_factors.BY_KIND, f"enrolment has no module for {kind}"
    assert set(enrolment_factors.BY_KIND) == set(ENROLLED)


def _kinds_in(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Dict):
        items = [k for k in node.keys if k is not None]
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        items = list(node.elts)
    else:
        return set()
    return {
        i.value
        for i in items
        if isinstance(i, ast.Constant) and isinstance(i.value, str) and i.value in KINDS
    }


def _about_kinds(node: ast.expr) -> bool:
    """Whether an operand names a factor or its kind (``f.kind``, ``factor``)."""
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return "kind" in name or "factor" in name


def _places(path: Path) -> list[str]:
    """Literal lists of two or more kinds, and comparisons with a kind, in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        kinds = _kinds_in(node)
        if len(kinds) >= 2 and kinds & ONLY_FACTORS:
            line = getattr(node, "lineno", 0)
            found.append(f"{path.relative_to(ROOT)}:{line} lists {sorted(kinds)}")
        if isinstance(node, ast.Compare):
            operands = (node.left, *node.comparators)
            named = [
                c.value for c in operands if isinstance(c, ast.Constant) and c.value in ONLY_FACTORS
            ]
            if named and any(_about_kinds(c) for c in operands):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} compares with {named}")
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and node.slice.value in ONLY_FACTORS
            and not (isinstance(node.value, ast.Name) and node.value.id == "Literal")
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} looks up {node.slice.value}")
    return found


def test_no_central_list_of_kinds_comes_back() -> None:
    places: list[str] = []
    for folder in ("services", "shared", "client"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative.startswith(ALLOWED):
                continue
            places += _places(path)
    assert not places, "kinds named outside their spec and modules:\n" + "\n".join(places)
