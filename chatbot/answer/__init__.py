"""Answer: reading a message in its conversation, the safety rails, composing the reply."""
