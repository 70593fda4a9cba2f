"""One builder module per aggregate, each writing its rows through a shared ``Salon``.

The builders draw from one random source in a fixed order (``demo.orchestrator``): calling them
in another order, or drawing one more number anywhere, changes every row that follows.
"""
