"""Figures for the notebooks, one module per notebook topic; each function returns a Figure."""
