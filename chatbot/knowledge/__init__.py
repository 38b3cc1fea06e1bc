"""Knowledge: what the articles say and how they are organised (corpus, Markdown, chunks, glossary)."""
