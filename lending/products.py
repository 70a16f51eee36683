"""The loan product: limits, the choices an applicant makes, and their display labels.

Enum values are the stable identifiers stored in the database and carried in button data;
`label` gives the English message id (marked with `N_`) that an adapter translates.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from locales import N_


@dataclass(frozen=True)
class ProductLimits:
    """What the product allows: amount in CNY, term in months (both bounds inclusive)."""

    min_amount: Decimal = Decimal("10000")
    max_amount: Decimal = Decimal("10000000")
    min_term: int = 3
    max_term: int = 60


class Industry(StrEnum):
    MANUFACTURING = "manufacturing"
    WHOLESALE_RETAIL = "wholesale_retail"
    CATERING_HOSPITALITY = "catering_hospitality"
    CONSTRUCTION = "construction"
    TRANSPORT_LOGISTICS = "transport_logistics"
    TECHNOLOGY = "technology"
    AGRICULTURE = "agriculture"
    SERVICES = "services"
    OTHER = "other"


class LoanPurpose(StrEnum):
    WORKING_CAPITAL = "working_capital"
    EQUIPMENT = "equipment"
    EXPANSION = "expansion"
    INVENTORY = "inventory"
    REFINANCING = "refinancing"
    OTHER = "other"


class RepaymentMethod(StrEnum):
    EQUAL_INSTALMENTS = "equal_instalments"  # 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金
    INTEREST_ONLY = "interest_only"  # 先息后本


class SecurityType(StrEnum):
    NONE = "none"
    COLLATERAL = "collateral"
    GUARANTOR = "guarantor"


class DocumentType(StrEnum):
    BUSINESS_LICENCE = "business_licence"
    OWNER_ID = "owner_id"
    FINANCIAL_STATEMENTS = "financial_statements"
    BANK_STATEMENTS = "bank_statements"
    TAX_CERTIFICATE = "tax_certificate"
    COLLATERAL_PAPERS = "collateral_papers"


_ALWAYS_REQUIRED = (
    DocumentType.BUSINESS_LICENCE,
    DocumentType.OWNER_ID,
    DocumentType.FINANCIAL_STATEMENTS,
    DocumentType.BANK_STATEMENTS,
    DocumentType.TAX_CERTIFICATE,
)


def required_documents(security_type: SecurityType) -> tuple[DocumentType, ...]:
    """The documents an application needs before it can be recommended, in checklist order."""
    if security_type is SecurityType.COLLATERAL:
        return (*_ALWAYS_REQUIRED, DocumentType.COLLATERAL_PAPERS)
    return _ALWAYS_REQUIRED


ProductChoice = Industry | LoanPurpose | RepaymentMethod | SecurityType | DocumentType

# One table per enum: StrEnum members compare equal to their values, so Industry.OTHER and
# LoanPurpose.OTHER would collide as keys of a single dict.
_INDUSTRY_LABELS = {
    Industry.MANUFACTURING: N_("Manufacturing"),
    Industry.WHOLESALE_RETAIL: N_("Wholesale and retail"),
    Industry.CATERING_HOSPITALITY: N_("Catering and hospitality"),
    Industry.CONSTRUCTION: N_("Construction"),
    Industry.TRANSPORT_LOGISTICS: N_("Transport and logistics"),
    Industry.TECHNOLOGY: N_("Technology"),
    Industry.AGRICULTURE: N_("Agriculture"),
    Industry.SERVICES: N_("Services"),
    Industry.OTHER: N_("Other industry"),
}
_PURPOSE_LABELS = {
    LoanPurpose.WORKING_CAPITAL: N_("Working capital"),
    LoanPurpose.EQUIPMENT: N_("Equipment purchase"),
    LoanPurpose.EXPANSION: N_("Business expansion"),
    LoanPurpose.INVENTORY: N_("Inventory"),
    LoanPurpose.REFINANCING: N_("Refinancing existing debt"),
    LoanPurpose.OTHER: N_("Other purpose"),
}
_REPAYMENT_LABELS = {
    RepaymentMethod.EQUAL_INSTALMENTS: N_("Equal monthly instalments (principal and interest)"),
    RepaymentMethod.EQUAL_PRINCIPAL: N_("Equal principal each month, plus interest"),
    RepaymentMethod.INTEREST_ONLY: N_("Interest monthly, principal at the end"),
}
_SECURITY_LABELS = {
    SecurityType.NONE: N_("No security (unsecured)"),
    SecurityType.COLLATERAL: N_("Collateral"),
    SecurityType.GUARANTOR: N_("Guarantor"),
}
_DOCUMENT_LABELS = {
    DocumentType.BUSINESS_LICENCE: N_("Business licence"),
    DocumentType.OWNER_ID: N_("Owner's ID card"),
    DocumentType.FINANCIAL_STATEMENTS: N_("Last year's financial statements"),
    DocumentType.BANK_STATEMENTS: N_("Bank statements (last six months)"),
    DocumentType.TAX_CERTIFICATE: N_("Tax certificate"),
    DocumentType.COLLATERAL_PAPERS: N_("Collateral papers"),
}


def label(member: ProductChoice) -> str:
    """The English message id naming `member` on buttons and in summaries (translate it)."""
    if isinstance(member, Industry):
        return _INDUSTRY_LABELS[member]
    if isinstance(member, LoanPurpose):
        return _PURPOSE_LABELS[member]
    if isinstance(member, RepaymentMethod):
        return _REPAYMENT_LABELS[member]
    if isinstance(member, SecurityType):
        return _SECURITY_LABELS[member]
    return _DOCUMENT_LABELS[member]
