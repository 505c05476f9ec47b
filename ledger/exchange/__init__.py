"""The secondary-material exchange: listings signed by their account, and matchmaking."""
