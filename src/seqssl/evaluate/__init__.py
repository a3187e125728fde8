"""Evaluation: metrics, cross-validation, reports."""
