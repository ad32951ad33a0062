"""The core every part may import: small, dependency-free building blocks.

It imports nothing of the project (pipeline, tokenization, pretrain import it, never the other
way), so a part can use it without pulling in another part.
"""
