"""Each record with a life cycle has one module that changes it; nobody else assigns it.

Walks every module under app/ and lists the assignments to a `.state` or `.status` attribute
(plain, tuple, augmented or annotated assignment, or `setattr(x, "state", ...)`). Creating a
record with its first state (`BankAccount(status=...)`) is not an assignment and stays legal.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_db

APP = Path(__file__).resolve().parents[2] / "app"
WATCHED = frozenset({"state", "status"})

# The one module allowed to change each life cycle.
OWNERS = {
    "documents/transitions.py": "Document.state",
    "onboarding/states.py": "Organization.status",
    "webhooks/states.py": "WebhookDelivery.status",
    "posting/attempts.py": "PostingAttempt.state",
}
# Life cycles changed through app/lifecycle.py (which sets the attribute it is given): each
# owner declares its Lifecycle once, and nothing else may assign the attribute.
LIFECYCLE_OWNERS = {
    "onboarding/bank_states.py": "BankAccount.status",
    "federation/services.py": "IdentityProvider.status",
    "throttling/services.py": "TierRequest.state",
}
# Attributes of the same name on other things, each checked by reading the line.
UNRELATED = {
    "erp/errors.py": "an ERP error's HTTP status",
    "erp/mock/seed.py": "a mock ERP purchase order (PoStatus)",
    "erp/mock/services.py": "a mock ERP AP invoice (ApInvoiceStatus)",
}


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return [node.target]
    return []


def _flatten(target: ast.expr) -> list[ast.expr]:
    if isinstance(target, ast.Tuple | ast.List):
        return [leaf for element in target.elts for leaf in _flatten(element)]
    return [target]


def _is_setattr_of_watched(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "setattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value in WATCHED
    )


def assignments(source: str) -> list[int]:
    """Line numbers where `source` assigns a `.state` or `.status` attribute."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if _is_setattr_of_watched(node):
            lines.append(node.lineno)
        for target in (leaf for t in _targets(node) for leaf in _flatten(t)):
            if isinstance(target, ast.Attribute) and target.attr in WATCHED:
                lines.append(target.lineno)
    return sorted(lines)


def test_the_walker_sees_every_kind_of_assignment():
    source = (
        "a.status = 1\n"
        "b.state, b.at = 1, 2\n"
        "c.status += 1\n"
        "d.state: int = 1\n"
        "setattr(e, 'status', 1)\n"
        "Account(status=1)\n"
        "f.statuses = 1\n"
    )
    assert assignments(source) == [1, 2, 3, 4, 5]


def test_only_the_owner_changes_a_life_cycle():
    offenders = []
    for path in sorted(APP.rglob("*.py")):
        name = path.relative_to(APP).as_posix()
        if name in OWNERS or name in UNRELATED or name == "lifecycle.py":
            continue
        offenders += [f"app/{name}:{line}" for line in assignments(path.read_text())]
    assert offenders == [], (
        "these lines assign a state/status outside its owner; call the owner's transition "
        f"instead ({', '.join(f'{v}: app/{k}' for k, v in OWNERS.items())}): {offenders}"
    )


def test_the_owners_still_exist():
    # A moved owner would silently stop being checked.
    for name in [*OWNERS, *UNRELATED]:
        assert assignments((APP / name).read_text()), f"app/{name} no longer assigns one"
    for name in LIFECYCLE_OWNERS:
        assert "Lifecycle(" in (APP / name).read_text(), f"app/{name} declares no Lifecycle"
