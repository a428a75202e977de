"""Domain: tables, reads (``get_*``, ``list_*``) and actions (verbs) by noun.

Only actions write, each in one transaction, and they emit their events inside it so that
events leave exactly when the data is committed. Nothing here imports Litestar or Jinja.
"""
