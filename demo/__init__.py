"""The demo salon: deterministic demo and test data (``manage.py seed``) and the demo admin."""
