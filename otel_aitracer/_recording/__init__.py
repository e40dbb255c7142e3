"""The record path: finished spans are mapped, checked, redacted, fitted, priced and handed to a destination."""
