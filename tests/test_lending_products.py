"""Product limits, required documents, choice labels and application references."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lending.products import (
    DocumentType,
    Industry,
    LoanPurpose,
    ProductLimits,
    RepaymentMethod,
    SecurityType,
    label,
    required_documents,
)
from lending.reference import application_reference

CHOICE_ENUMS = (Industry, LoanPurpose, RepaymentMethod, SecurityType, DocumentType)


def test_default_limits() -> None:
    limits = ProductLimits()
    assert (limits.min_amount, limits.max_amount) == (Decimal("10000"), Decimal("10000000"))
    assert (limits.min_term, limits.max_term) == (3, 60)


def test_collateral_papers_are_required_only_with_collateral() -> None:
    with_collateral = required_documents(SecurityType.COLLATERAL)
    assert DocumentType.COLLATERAL_PAPERS in with_collateral
    assert set(with_collateral) == set(DocumentType)
    for security in (SecurityType.NONE, SecurityType.GUARANTOR):
        documents = required_documents(security)
        assert DocumentType.COLLATERAL_PAPERS not in documents
        assert len(documents) == len(DocumentType) - 1


@pytest.mark.parametrize("enum", CHOICE_ENUMS)
def test_every_choice_has_its_own_label(enum: type[Industry]) -> None:
    labels = [label(member) for member in enum]
    assert all(labels)
    assert len(set(labels)) == len(labels)


def test_members_with_equal_values_keep_their_own_labels() -> None:
    assert str(Industry.OTHER) == str(LoanPurpose.OTHER)  # equal as strings (and as keys) ...
    assert label(Industry.OTHER) != label(LoanPurpose.OTHER)  # ... labels must not collide
    assert label(RepaymentMethod.EQUAL_INSTALMENTS) != label(RepaymentMethod.EQUAL_PRINCIPAL)


def test_application_reference() -> None:
    assert application_reference(2026, 123) == "SME-2026-000123"
    assert application_reference(2026, 1234567) == "SME-2026-1234567"
    for year, number in ((2026, 0), (26, 1), (2026, -5)):
        with pytest.raises(ValueError):
            application_reference(year, number)
