"""Fixtures: kafka. (filled in by its area)"""
