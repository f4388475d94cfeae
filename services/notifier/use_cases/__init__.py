"""The notifier's use cases: receiving requests, delivering them, and forgetting old ones."""
