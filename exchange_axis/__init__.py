"""The exchange axis: nodes hosting agencies, routing, store-and-forward delivery, receipts, and
the national-axis adapter with its simulator.
"""
