"""Fixtures: airflow. (filled in by its area)"""
