"""Example firstline plugin: a Healthchecks.io adapter discovered through the ``firstline.tools`` entry
point.
"""
