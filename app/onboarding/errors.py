"""What an onboarding use case refuses, in words a user can act on."""

from __future__ import annotations

from app.onboarding.rules import FieldError


class OnboardingError(ValueError):
    """A request that cannot be done in the organization's current state."""


class ConflictOfInterest(OnboardingError):  # noqa: N818 - the name says what it is
    """The reviewer invited or belongs to the organization, or asked for the change."""


__all__ = ["ConflictOfInterest", "FieldError", "OnboardingError"]
