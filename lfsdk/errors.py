"""The error every public lfsdk call raises for input it cannot use (re-exported as lfsdk.InputError)."""

__all__ = ["InputError"]


class InputError(ValueError):
    """Input the estimator cannot use; the message says what was wrong and what was expected."""
