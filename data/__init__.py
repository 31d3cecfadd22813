"""Data bundled with drgdip: the demo scheme and DIP directory (``demo/``) and the worked policies
(``policies/``); found through :mod:`drgdip.core.resources`."""
