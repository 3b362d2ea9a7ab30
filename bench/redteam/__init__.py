"""Haechi's red team: off-the-shelf, own-model, trained and memorising bots, live server."""
