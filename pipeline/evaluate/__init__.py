"""Measuring trained runs and writing their reports."""
