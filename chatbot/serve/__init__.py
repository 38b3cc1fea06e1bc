"""Serve: the HTTP API, the Gradio chat page and the clinic website widget."""
