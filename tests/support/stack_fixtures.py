"""Fixtures: stack. (filled in by its area)"""
